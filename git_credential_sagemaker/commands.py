"""The user's commands: argparse front ends over the modules that do the work.

Exit codes: 0 done, 1 failed (one line on stderr says why and what to do), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from git_credential_sagemaker import account, agent, agentclient, paths
from git_credential_sagemaker.prompt import PromptError
from git_credential_sagemaker.settings import Settings, read_git_config
from git_credential_sagemaker.store import Entry, StoreError

PROG = paths.APP


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(os.environ, read_git_config(), args.dir, getattr(args, "timeout", None))


def _agent_call(conf: Settings, op: str) -> Optional[tuple[bytes, bytes]]:
    path = agentclient.socket_path(str(conf.runtime_dir), str(conf.store_dir))
    return agentclient.call(path, agentclient.encode(op, str(conf.store_dir)))


def _git_uses_helper() -> bool:
    done = subprocess.run(["git", "config", "--get-all", "credential.helper"],
                          capture_output=True, text=True, check=False)
    return any(v.split()[:1] == ["sagemaker"] for v in done.stdout.splitlines())


def cmd_login(args: argparse.Namespace) -> int:
    conf = _settings(args)
    store = conf.open_store()
    what = account.login(
        conf, store, args.target, args.username,
        lambda text: conf.prompter.ask(text, secret=False),
        lambda text: conf.prompter.ask(text), args.expires,
        say=lambda line: print(line, file=sys.stderr))
    print(f"stored the token for {what}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    conf = _settings(args)
    fields = account.target(args.target)
    username = args.username or fields["username"]

    def doomed(entry: Entry) -> bool:
        return (entry.protocol, entry.host) == (fields["protocol"], fields["host"]) and (
            username is None or entry.username == username)

    removed = conf.open_store().remove(doomed, needs_key=False)
    print(f"removed {removed} token{'s' if removed != 1 else ''} for {fields['host']}")
    return 0 if removed else 1


def cmd_list(args: argparse.Namespace) -> int:
    entries = _settings(args).open_store().entries()
    if not entries:
        print("no tokens stored")
        return 0
    rows = [("URL", "USERNAME", "STORED", "EXPIRES")]
    for e in entries:
        expiry = "-"
        if e.expiry and e.expiry.isdigit():
            expiry = time.strftime("%Y-%m-%d", time.gmtime(int(e.expiry)))
        url = f"{e.protocol}://{e.host}" + (f"/{e.path}" if e.path is not None else "")
        rows.append((url, "(none)" if e.username is None else e.username or "(empty)",
                     e.stored, expiry))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    conf = _settings(args)
    print(f"store:    {conf.store_dir / 'keyring.cfg'}")
    reply = _agent_call(conf, "status")
    if reply is not None and reply[0] == agentclient.OK:
        info = dict(line.split("=", 1) for line in reply[1].decode().splitlines())
        until = "the machine stops" if info["expires"] == "never" else time.strftime(
            "%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(info["expires"])))
        print(f"keyring:  unlocked (agent pid {info['pid']}, until {until})")
    else:
        print("keyring:  locked")
    configured = _git_uses_helper()
    print("git:      " + ("uses this helper" if configured else
                          "not configured; run: git config --global credential.helper "
                          "sagemaker"))
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    reply = _agent_call(_settings(args), "lock")
    print("locked" if reply is not None else "already locked")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    conf = _settings(args)
    store = conf.open_store()
    if not store.path.exists():
        print(f"{PROG}: nothing stored yet; run: {PROG} login", file=sys.stderr)
        return 1
    key = conf.unlock(store)
    agent.spawn(conf.store_dir, conf.runtime_dir, key, conf.timeout)
    print("unlocked" + (f" for {conf.timeout:g}s" if conf.timeout else
                        " until this machine stops"))
    return 0


def _repo(args: argparse.Namespace) -> Optional[Path]:
    """--repo, else the repository the user stands in, else None."""
    start = args.repo or os.getcwd()
    done = subprocess.run(["git", "-C", start, "rev-parse", "--show-toplevel"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if args.repo:
            raise StoreError(f"{args.repo} is not a git repository")
        return None
    return Path(done.stdout.strip())


def cmd_setup(args: argparse.Namespace) -> int:
    """Wire everything up; idempotent, and says what it changed."""
    from git_credential_sagemaker import configure

    conf = _settings(args)
    machine = configure.Machine.detect(os.environ)

    def ask(text: str) -> Optional[str]:
        answer = conf.prompter.ask(text, secret=False)
        if answer is None and conf.prompter.in_kernel:
            raise StoreError("pass --name and --email, or in a notebook cell run: "
                             "from git_credential_sagemaker import setup; setup()")
        return answer

    advice: list[str] = []
    changes = configure.configure_git(machine, args.name, args.email, ask, args.dry_run,
                                      advice)
    changes += configure.persist_for_restart(machine, args.dry_run)
    repo = None if args.no_repo else _repo(args)
    if repo is not None:
        from git_credential_sagemaker.repo_setup import setup_repo

        python = configure.pre_commit_python(machine)
        repo_changes = setup_repo(repo, migrate=args.migrate, dry_run=args.dry_run,
                                  python=python)
        changes += [c.what for c in repo_changes if not c.advice]
        advice += [c.what for c in repo_changes if c.advice]
    verb = "would change" if args.dry_run else "changed"
    for line in changes:
        print(f"{verb}: {line}")
    if not changes:
        print("everything is already set up")
    for line in advice:
        print(f"note: {line}")
    if machine.kind == "studio":
        print("Studio keeps your home directory across restarts: no lifecycle script is needed")
    return 0


def cmd_lifecycle_script(args: argparse.Namespace) -> int:
    from git_credential_sagemaker import configure, lifecycle

    machine = configure.Machine.detect(os.environ)
    if machine.layout is None:
        where = "Studio keeps your home directory" if machine.kind == "studio" else \
            "this is not a SageMaker notebook instance"
        raise StoreError(f"{where}: no lifecycle script is needed")
    sys.stdout.write(lifecycle.render(machine.layout))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from git_credential_sagemaker import doctor

    problems = doctor.diagnose(os.environ, _repo(args))
    for problem, fix in problems:
        print(f"{problem}\n    fix: {fix}")
    if not problems:
        print("all good")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="git credential helper for SageMaker: tokens kept encrypted on the "
                    "persistent volume. git runs it as `credential.helper sagemaker`.",
    )
    parser.add_argument("--dir", help="store directory (default: on the persistent volume)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], text: str
            ) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.set_defaults(func=func)
        return cmd

    for name, func, text in (("login", cmd_login, "store a token, interactively"),
                             ("logout", cmd_logout, "erase stored tokens")):
        cmd = add(name, func, text)
        cmd.add_argument("target", nargs="?", default="github.com", metavar="URL_OR_HOST",
                         help="where the token is for (default: github.com)")
        cmd.add_argument("--username", help="the account's username")
    login = sub.choices["login"]
    login.add_argument("--expires", metavar="DATE", help="token expiry, YYYY-MM-DD")
    login.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="keep the keyring unlocked this long (default: until shutdown)")
    add("list", cmd_list, "list stored tokens (never the secrets); works while locked")
    add("status", cmd_status, "store path, locked or unlocked, and whether git uses the helper")
    add("lock", cmd_lock, "forget the key now")
    unlock = add("unlock", cmd_unlock, "enter the passphrase now")
    unlock.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="stay unlocked this long (default: until this machine stops)")
    setup = add("setup", cmd_setup, "set up git, restarts and the current repository "
                "(idempotent)")
    setup.add_argument("--name", help="user.name for commits")
    setup.add_argument("--email", help="user.email for commits")
    setup.add_argument("--repo", help="repository to set up (default: the one you stand in)")
    setup.add_argument("--no-repo", action="store_true",
                       help="set up git and restarts only, not the repository you stand in")
    setup.add_argument("--migrate", action="store_true",
                       help="convert tracked notebooks to .py and untrack them")
    setup.add_argument("--dry-run", action="store_true", help="say what would change")
    add("lifecycle-script", cmd_lifecycle_script,
        "print the on-start script for a notebook instance's Lifecycle Configuration")
    doctor = add("doctor", cmd_doctor, "check every piece and print the fix for each one off")
    doctor.add_argument("--repo", help="repository to check (default: the one you stand in)")
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result: int = args.func(args)
    except (StoreError, PromptError) as exc:
        message = str(exc)
        print(message if message.startswith(PROG) else f"{PROG}: {message}", file=sys.stderr)
        return 1
    return result
