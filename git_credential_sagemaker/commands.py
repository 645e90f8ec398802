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


def cmd_setup(args: argparse.Namespace) -> int:
    """Point git at this helper (idempotent)."""
    if _git_uses_helper():
        print("credential.helper already includes sagemaker")
        return 0
    if args.dry_run:
        print("would run: git config --global --add credential.helper sagemaker")
        return 0
    done = subprocess.run(["git", "config", "--global", "--add", "credential.helper",
                           "sagemaker"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StoreError(f"git config failed: {done.stderr.strip()}")
    print("set credential.helper = sagemaker in your global git config")
    return 0


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
    setup = add("setup", cmd_setup, "configure git to use this helper")
    setup.add_argument("--dry-run", action="store_true", help="say what would change")
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
