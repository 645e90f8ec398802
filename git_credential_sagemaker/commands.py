"""The user's commands: argparse front ends over `credential` and `provision`.

Each `cmd_*` turns arguments into plain values, calls one function below, and prints.
Exit codes: 0 done, 1 failed (one line on stderr says why and what to do), 2 bad usage,
141 the reader of stdout went away first (as a shell reports git's own commands then).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Sequence
from typing import Callable, NoReturn, Optional

from git_credential_sagemaker.credential import (
    account,
    agentclient,
    gitconfig,
    keys,
    kms,
    paths,
    tokens,
    unlock,
)
from git_credential_sagemaker.credential.prompt import notebook_line, sanitize
from git_credential_sagemaker.credential.settings import Settings, parse_timeout
from git_credential_sagemaker.credential.store import Entry
from git_credential_sagemaker.errors import PromptError, SetupError, UsageError, UserError

PROG = paths.APP


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(os.environ, gitconfig.read_all(), args.dir, getattr(args, "timeout", None))


def _err(line: str) -> None:
    print(line, file=sys.stderr)


def cmd_login(args: argparse.Namespace) -> int:
    conf = _settings(args)
    if args.device:
        return _login_device(conf, args)
    account.check_args(args.target, args.username, args.expires)  # before anything is asked
    if conf.prompter.channel() is None:
        raise PromptError(_login_elsewhere(conf, args))
    store = unlock.open_store(conf)
    what = account.login(
        conf,
        store,
        args.target,
        args.username,
        lambda text: conf.prompter.ask(text, secret=False),
        conf.prompter.ask,
        args.expires,
        say=_err,
    )
    print(f"stored the token for {what}")
    return 0


def _login_device(conf: Settings, args: argparse.Namespace) -> int:
    """Sign in with the GitHub App git config names for the host: its URL and code here, then
    wait for the browser's approval (Ctrl-C stops it)."""
    from git_credential_sagemaker.credential import device, oauth

    if args.expires:
        raise UsageError("--expires is for a pasted token; a GitHub App's tokens carry their own")
    where = account.target(args.target, args.username)
    flow = device.required_flow(where.protocol, where.host)
    store = unlock.open_store(conf)
    if conf.call_agent("status") is None:
        unlock.unlock_and_remember(conf, store, say=_err)  # asked now, not after the browser

    def show(code: oauth.DeviceCode) -> None:
        print(f"open: {sanitize(code.verification_uri)}")
        print(f"code: {sanitize(code.user_code)}")
        print("waiting for the approval in the browser (Ctrl-C stops it)", flush=True)

    user = where.username or oauth.USERNAME
    put = device.agent_put(conf.call_agent)
    try:
        device.sign_in_here(store, where.protocol, where.host, user, flow, show, put)
    except KeyboardInterrupt:
        _err(f"{PROG}: signing in was stopped; nothing was stored")
        return 130
    print(f"signed in to {where.where}; git push and pull now work without prompts")
    return 0


def _login_elsewhere(conf: Settings, args: argparse.Namespace) -> str:
    """Where to log in when this process can't ask for a token."""
    if conf.prompter.in_kernel:
        words = [args.target] if args.target != "github.com" or args.username else []
        words += [args.username] if args.username else []
        line = notebook_line("login", conf.prompter.magics)
        if words and conf.prompter.magics:
            line += " " + " ".join(shlex.quote(sanitize(w)) for w in words)
        elif words:
            line = line[: -len("()")] + f"({', '.join(repr(sanitize(w)) for w in words)})"
        return f"a `!` command in a notebook can't ask for a token; in a cell, run: {line}"
    if not conf.prompter.allowed:
        return (
            "login asks for the token, and prompts are turned off here (GIT_TERMINAL_PROMPT=0 "
            "or credential.interactive=false); run it in a terminal with prompts on"
        )
    return "login asks for the token on a terminal, and this process has none; run it in a terminal"


def cmd_logout(args: argparse.Namespace) -> int:
    conf = _settings(args)
    removed = account.logout(unlock.open_store(conf), args.target, args.username)
    host = sanitize(account.target(args.target).host)
    print(f"removed {removed} token{'s' if removed != 1 else ''} for {host}")
    return 0 if removed else 1


def _token_rows(entries: list[Entry]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("URL", "USERNAME", "TOKEN", "EXPIRES", "CHECKED")]
    for e in entries:
        user = "(none)" if e.username is None else e.username or "(empty)"
        rows.append((sanitize(tokens.url_of(e)), sanitize(user), *tokens.describe(e)))
    return rows


def _print_table(rows: list[tuple[str, ...]], indent: str = "") -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def cmd_list(args: argparse.Namespace) -> int:
    entries = unlock.open_store(_settings(args)).entries()
    if not entries:
        print("no tokens stored")
        return 0
    _print_table(_token_rows(entries))
    used = _account_used(entries)
    if used:
        print(used)
    return 0


def _account_used(entries: list[Entry]) -> Optional[str]:
    """Which stored account the repository one stands in uses at its remote's host."""
    from git_credential_sagemaker.provision import accounts
    from git_credential_sagemaker.provision.setup import find_repo

    repo = find_repo(None, os.getcwd())
    found = None if repo is None else accounts.bound(repo)
    if found is None:
        return None
    base, named = found
    scheme, _, host = base.partition("://")
    stored = list(
        dict.fromkeys(e.username for e in entries if (e.protocol, e.host) == (scheme, host))
    )
    names = [n for n in stored if n]
    where = f"this repository ({sanitize(base)})"
    if named:
        missing = "" if named in names else "; no token is stored for it yet"
        return f"{where} uses {sanitize(named)}, named by git config or its URL{missing}"
    if len(names) > 1:
        return (
            f"{where} names no account, so {sanitize(names[0])}, the first of {len(names)}, "
            f"answers; choose one with: {PROG} setup --account NAME"
        )
    return f"{where} uses {sanitize(names[0])}" if names else None


def cmd_status(args: argparse.Namespace) -> int:
    conf = _settings(args)
    print(f"store:    {conf.store_dir / 'keyring.cfg'}")
    reply = conf.call_agent("status")
    info: dict[str, str] = {}
    if reply is not None and reply[0] == agentclient.OK:
        lines = reply[1].decode(errors="replace").splitlines()
        info = dict(line.split("=", 1) for line in lines if "=" in line)
    if info.get("pid"):
        expires = info.get("expires", "never")
        until = (
            "the machine stops"
            if not expires.isdigit()
            else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(expires)))
        )
        print(f"keyring:  unlocked (agent pid {sanitize(info['pid'])}, until {until})")
    else:
        print("keyring:  locked")
    configured = gitconfig.helper_configured()
    print(
        "git:      "
        + ("uses this helper" if configured else f"not configured; run: {PROG} setup --no-repo")
    )
    store = unlock.open_store(conf)
    fields = store.settings()
    if fields is not None:
        print(f"opens:    with {sanitize(keys.describe(fields))}")
    entries = store.entries()
    print(f"tokens:   {len(entries) or 'none stored'}")
    waiting = store.pending()
    if waiting:
        print(f"inbox:    {waiting} token{'s' if waiting != 1 else ''} waiting for unlock")
    if entries:
        _print_table(_token_rows(entries), indent="  ")
    used = _account_used(entries)
    if used:
        print(f"account:  {used}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Ask GitHub again about each stored token: revoked, expiring, or too broad."""
    conf = _settings(args)
    store = unlock.open_store(conf)
    findings, blocked = tokens.recheck(conf, store, args.host, may_prompt=True)
    if blocked:
        raise PromptError(blocked)
    if not findings:
        print("no GitHub tokens stored" + (f" for {sanitize(args.host)}" if args.host else ""))
        return 0
    problems = 0
    for finding in findings:
        result = finding.check
        said = result.describe() if result is not None else "not checked"
        if result is not None and result.status == "not checked" and result.reason:
            said += f" ({result.reason})"
        print(f"{sanitize(tokens.url_of(finding.entry))}: {sanitize(said)}")
        for line in finding.problems:
            print(f"    {line}")
        problems += len(finding.problems)
    return 1 if problems else 0


def cmd_lock(args: argparse.Namespace) -> int:
    reply = _settings(args).call_agent("lock")
    print("locked" if reply is not None else "already locked")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    conf = _settings(args)
    store = unlock.open_store(conf)
    if not store.path.exists():
        _err(conf.prompter.hint("nothing is stored yet, so there is nothing to unlock"))
        return 1
    key = unlock.unlock(conf, store)
    unlock.start_agent(conf, key, strict=True)
    print("unlocked" + (f" for {conf.timeout:g}s" if conf.timeout else " until this machine stops"))
    return 0


def cmd_passphrase(args: argparse.Namespace) -> int:
    """Set a new passphrase: to change it, or to give a store only KMS opens a second way in."""
    conf = _settings(args)
    store = unlock.open_store(conf)
    if not store.path.exists():
        _err(conf.prompter.hint("nothing is stored yet; the first login chooses one"))
        return 1
    fields = store.settings() or {}
    if conf.env_passphrase is not None and keys.has_passphrase(fields):
        raise UsageError(
            "the new passphrase can't come from GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE, which "
            "holds the current one; unset it and run this in a terminal"
        )
    unlock.unlock(conf, store)  # KMS or the current passphrase: the data key
    new = unlock.passphrase_source(conf)(True)
    key = store.change_passphrase(new, kms.encrypt)
    unlock.hand_over(conf, key)
    for line in _passphrase_changed(str(store.path), store.settings() or {}, fields):
        print(line)
    return 0


def _passphrase_changed(path: str, now: dict[str, str], before: dict[str, str]) -> list[str]:
    """What a passphrase change did, and what the old passphrase still opens: old copies."""
    lines = [f"the new passphrase opens {path} from now on; its tokens are sealed by a new key"]
    arn = keys.kms_key(now)
    if arn:
        lines.append(f"KMS key {arn} wraps the new key too")
    if keys.has_passphrase(before):
        lines.append(
            "the old passphrase opens only copies made before now (a snapshot of the volume, "
            "a copy of the file) and the tokens they hold, never a token saved from now on: "
            "if it leaked, rotate your tokens too"
        )
    return lines


def cmd_reset(args: argparse.Namespace) -> int:
    """Start over after a forgotten passphrase or a damaged file; the old file is kept."""
    conf = _settings(args)
    store = unlock.open_store(conf)
    again = _with_dir(args, "reset --yes")
    if not os.path.lexists(store.path):
        stopped = account.stop_agent(conf)
        print(f"no keyring at {store.path}, so nothing to reset")
        if stopped:
            print("the unlock agent was stopped")
        return 0
    lost = _lost(account.stored_entries(store))
    if not args.yes:
        if conf.prompter.channel() is None:
            where = "in a cell, run: !" if conf.prompter.in_kernel else "run: "
            raise PromptError(
                f"reset would move {store.path} aside, losing {lost}; nothing here can "
                f"confirm it, so to go ahead, {where}{again}"
            )
        _err(f"{PROG}: reset moves {store.path} aside and starts a new keyring, losing {lost}")
        answer = conf.prompter.ask("Reset the keyring? [y/N] ", secret=False)
        if answer is None or answer.strip().lower() not in ("y", "yes"):
            print("nothing was changed")
            return 1
    done = account.reset(conf, store)
    for old, new in done.moved:
        print(f"moved {old} to {new}")
    print(f"lost: {lost}")
    if done.agent_stopped:
        print("the unlock agent was stopped")
    relogin = f"{PROG} login"
    if conf.prompter.in_kernel:
        relogin = notebook_line("login", conf.prompter.magics)
    print(f"the next login or push asks for a new passphrase; log in again with: {relogin}")
    if done.moved:
        old, new = done.moved[0]
        print(
            "if the old passphrase comes back to you, undo this (before anything new is "
            f"stored) with: mv {shlex.quote(str(new))} {shlex.quote(str(old))}"
        )
    return 0


def _with_dir(args: argparse.Namespace, command: str) -> str:
    """`command` as the user should type it, with the --dir they gave."""
    where = f" --dir {shlex.quote(args.dir)}" if args.dir else ""
    return f"{PROG}{where} {command}"


def _lost(entries: Optional[list[Entry]]) -> str:
    """'2 tokens (for github.com, gitlab.com)', for reset's confirmation and report."""
    if entries is None:
        return "whatever tokens it holds (the file can't be read)"
    if not entries:
        return "no tokens"
    names = sorted({sanitize(e.host) for e in entries})
    count = f"{len(entries)} token{'s' if len(entries) != 1 else ''}"
    return f"{count} (for {', '.join(names)})"


def cmd_setup(args: argparse.Namespace) -> int:
    """Wire everything up; idempotent, and says what it changed."""
    from git_credential_sagemaker.provision import setup

    conf = _settings(args)

    def ask(text: str) -> Optional[str]:
        answer = conf.prompter.ask(text, secret=False)
        if answer is None and conf.prompter.in_kernel:
            raise PromptError(
                "nothing in a cell can answer; pass them: "
                f"!{PROG} setup --name 'Your Name' --email you@example.com"
            )
        return answer

    cwd = os.getcwd()
    repo = None if args.no_repo else setup.find_repo(args.repo, cwd)
    why = None
    if repo is None and not args.no_repo:
        why = (
            f"{sanitize(cwd)} is not inside a git repository; for the notebook hooks, run "
            f"{PROG} setup again inside one, or with --repo PATH"
        )
    from git_credential_sagemaker.provision import aws_setup

    aws_setup.check_value("--kms-key", args.kms_key)
    aws_setup.check_value("--secret", args.secret)
    if args.secret:
        aws_setup.check_url(args.secret_url)
    if args.account is not None and repo is None:
        raise UsageError("--account binds a repository to an account: run it inside one")
    aws_setup.check_value("--github-app", args.github_app)
    if args.github_app:
        aws_setup.check_url(args.github_app_url, "--github-app-url")
    aws = setup.AwsOptions(args.kms_key, args.secret, args.secret_url)
    app = (args.github_app, args.github_app_url.rstrip("/")) if args.github_app else None
    report = setup.setup(
        os.environ,
        ask,
        args.name,
        args.email,
        repo,
        args.migrate,
        args.dry_run,
        why,
        aws,
        args.account,
        app,
    )
    for line in report.lines():
        print(line)
    return 0


def cmd_lifecycle_script(args: argparse.Namespace) -> int:
    from git_credential_sagemaker.errors import UsageError
    from git_credential_sagemaker.provision import fleet, lifecycle
    from git_credential_sagemaker.provision.machine import Machine

    if args.fleet:  # any machine: the script names every instance's paths
        sys.stdout.write(
            fleet.render(os.environ, args.version, args.kms_key, args.secret, args.github_app)
        )
        return 0
    if (args.version, args.kms_key, args.secret, args.github_app) != (None, None, None, None):
        raise UsageError("--version, --kms-key, --secret and --github-app go with --fleet")
    machine = Machine.detect(os.environ)
    if machine.layout is None:
        where = (
            "Studio keeps your home directory"
            if machine.kind == "studio"
            else "this is not a SageMaker notebook instance"
        )
        raise SetupError(
            f"{where}: no lifecycle script is needed; for instances that never ran setup, "
            f"use: {PROG} lifecycle-script --fleet"
        )
    sys.stdout.write(lifecycle.render(machine.layout))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from git_credential_sagemaker.provision import doctor, setup

    problems = doctor.diagnose(os.environ, setup.find_repo(args.repo, os.getcwd()))
    for problem, fix in problems:
        print(f"{problem}\n    fix: {fix}")
    if not problems:
        print("all good")
    return 1 if problems else 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    """Rebuild the notebooks that are missing or out of date with their .py (after a clone)."""
    from git_credential_sagemaker.provision import repo as repo_setup
    from git_credential_sagemaker.provision import setup

    where = setup.find_repo(args.repo, os.getcwd())
    if where is None:
        raise SetupError(
            f"{sanitize(os.getcwd())} is not inside a git repository; run it inside one, "
            "or with --repo PATH"
        )
    built, left = repo_setup.rebuild_notebooks(where, overwrite=args.overwrite)
    for change in built:
        print(change.what)
    for message in left:
        print(message)
    if not built and not left:
        print("every notebook is up to date with its .py")
    return 1 if left else 0


def _timeout(text: str) -> float:
    try:
        return parse_timeout(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming --help, not the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see: {self.prog} --help\n")


class _Version(argparse.Action):
    """--version: looked up only when asked, so no other command pays for the metadata."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from git_credential_sagemaker.provision.wheelhouse import installed_version

        print(f"{PROG} {installed_version()}")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="git credential helper for SageMaker: tokens kept encrypted on the "
        "persistent volume. git runs it by the absolute path setup writes to "
        "credential.helper (its launcher; see: git config --get-all credential.helper).",
    )
    parser.add_argument("-V", "--version", action=_Version)
    parser.add_argument("--dir", help="store directory (default: on the persistent volume)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], text: str
    ) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.set_defaults(func=func)
        return cmd

    for name, func, text in (
        ("login", cmd_login, "store a token, interactively"),
        ("logout", cmd_logout, "erase stored tokens"),
    ):
        cmd = add(name, func, text)
        cmd.add_argument(
            "target",
            nargs="?",
            default="github.com",
            metavar="URL_OR_HOST",
            help="where the token is for (default: github.com)",
        )
        cmd.add_argument("--username", help="the account's username")
    login = sub.choices["login"]
    login.add_argument("--expires", metavar="DATE", help="token expiry, YYYY-MM-DD")
    login.add_argument(
        "--device",
        action="store_true",
        help="sign in through the browser with the GitHub App setup --github-app names",
    )
    login.add_argument(
        "--timeout",
        type=_timeout,
        metavar="SECONDS",
        help="keep the keyring unlocked this long (default: until shutdown)",
    )
    add("list", cmd_list, "list stored tokens (never the secrets); works while locked")
    add("status", cmd_status, "store path, locked or unlocked, and whether git uses the helper")
    check = add("check", cmd_check, "ask GitHub again about each stored token's scopes and expiry")
    check.add_argument("host", nargs="?", metavar="HOST", help="only the tokens for this host")
    add("lock", cmd_lock, "forget the key now")
    add(
        "passphrase",
        cmd_passphrase,
        "choose a new passphrase (also adds one to a keyring only a KMS key opens)",
    )
    unlock_cmd = add("unlock", cmd_unlock, "enter the passphrase now")
    unlock_cmd.add_argument(
        "--timeout",
        type=_timeout,
        metavar="SECONDS",
        help="stay unlocked this long (default: until this machine stops)",
    )
    reset = add(
        "reset",
        cmd_reset,
        "forgot the passphrase, or the keyring is damaged: move it aside (never deleted) "
        "and start a new one",
    )
    reset.add_argument("--yes", action="store_true", help="don't ask for a confirmation")
    setup = add("setup", cmd_setup, "set up git, restarts and the current repository (idempotent)")
    setup.add_argument("--name", help="user.name for commits")
    setup.add_argument("--email", help="user.email for commits")
    setup.add_argument("--repo", help="repository to set up (default: the one you stand in)")
    setup.add_argument(
        "--no-repo",
        action="store_true",
        help="set up git and restarts only, not the repository you stand in",
    )
    setup.add_argument(
        "--migrate", action="store_true", help="convert tracked notebooks to .py and untrack them"
    )
    setup.add_argument("--dry-run", action="store_true", help="say what would change")
    setup.add_argument(
        "--github-app",
        metavar="CLIENT_ID",
        help="sign in to --github-app-url through this GitHub App's device flow (no token)",
    )
    setup.add_argument(
        "--github-app-url",
        metavar="URL",
        default="https://github.com",
        help="the URL --github-app serves (default: https://github.com)",
    )
    setup.add_argument(
        "--account",
        metavar="USER",
        help="this repository uses this account at its remote's host (of several stored)",
    )
    setup.add_argument(
        "--kms-key",
        metavar="KEY",
        help="let this KMS key (ARN, id or alias) open the keyring: no passphrase after a restart",
    )
    setup.add_argument(
        "--secret",
        metavar="NAME-OR-ARN",
        help="read the token for --secret-url from this Secrets Manager secret",
    )
    setup.add_argument(
        "--secret-url",
        metavar="URL",
        default="https://github.com",
        help="the URL --secret serves (default: https://github.com)",
    )
    lifecycle_script = add(
        "lifecycle-script",
        cmd_lifecycle_script,
        "print the on-start script for a notebook instance's Lifecycle Configuration",
    )
    lifecycle_script.add_argument(
        "--fleet",
        action="store_true",
        help="for many instances, set up or not: install, then run setup (renders anywhere)",
    )
    lifecycle_script.add_argument(
        "--version", metavar="V", help="with --fleet: the version to install (default: this one)"
    )
    lifecycle_script.add_argument(
        "--kms-key", metavar="K", help="with --fleet: passed to setup's --kms-key"
    )
    lifecycle_script.add_argument(
        "--secret", metavar="S", help="with --fleet: passed to setup's --secret"
    )
    lifecycle_script.add_argument(
        "--github-app", metavar="CLIENT_ID", help="with --fleet: passed to setup's --github-app"
    )
    doctor = add("doctor", cmd_doctor, "check every piece and print the fix for each one off")
    doctor.add_argument("--repo", help="repository to check (default: the one you stand in)")
    notebooks = add(
        "notebooks",
        cmd_notebooks,
        "build the notebooks missing or out of date with their .py (e.g. after a clone)",
    )
    notebooks.add_argument("--repo", help="repository (default: the one you stand in)")
    notebooks.add_argument(
        "--overwrite", action="store_true", help="replace notebooks even if they have local edits"
    )
    return parser


# A reader that went away (`status | head -1`): git's own commands die of SIGPIPE then, which
# a shell reports as 128 + 13; so does this, quietly.
CLOSED_STDOUT = 141


def main(argv: Sequence[str]) -> int:
    """Run one command; a closed stdout ends it quietly, as it ends git's own commands."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, not at exit, where a failure would be a traceback
    except BrokenPipeError:
        # Whatever is still buffered goes nowhere: the interpreter's last flush can't fail.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_STDOUT


def _main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result: int = args.func(args)
    except UserError as exc:
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        _err(message if message.startswith(PROG) else f"{PROG}: {message}")
        return 1
    return result
