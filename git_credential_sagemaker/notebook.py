"""Logging in, unlocking and setting up from a notebook cell, where git's prompts can't be answered.

    %git_login / %git_unlock (the kernel startup file; any kernel's env)
        --pipe--> PYTHON -m git_credential_sagemaker.notebook login|unlock  (main, below)
                  each prompt: one line out ("\\0secret\\0<text>"), the answer one line in
    login() / unlock() / setup() (the package imported into the kernel)
        --getpass (the kernel's password box), input()-->
    both --> credential.account / credential.unlock / provision.setup

The magics run the package in the interpreter that has it, because a kernel's env need not
(provision/kernel_startup explains). Asking is injected, so the same steps serve a pipe and
the kernel's own getpass; secrets are never echoed, returned, or put in argv. Errors print
as one line.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from typing import Any, Callable, NoReturn, Optional

from git_credential_sagemaker.credential import account, agentclient, gitconfig
from git_credential_sagemaker.credential import unlock as unlocking
from git_credential_sagemaker.credential.prompt import notebook_line
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.errors import UsageError, UserError

PREFIX = "git-credential-sagemaker: "
Ask = Callable[[str], Optional[str]]


def _getpass(prompt: str) -> Optional[str]:
    import getpass

    return getpass.getpass(prompt)


def _input(prompt: str) -> Optional[str]:
    return input(prompt)


def _say(line: str) -> None:
    print(line if line.startswith(PREFIX) else PREFIX + line)


def _settings() -> Settings:
    return Settings.load(os.environ, gitconfig.read_all())


def login(
    url_or_host: str = "github.com",
    username: Optional[str] = None,
    expires: Optional[str] = None,
    device: bool = False,
) -> None:
    """Store a token for `url_or_host` and unlock the keyring; prompts in the notebook.

    device=True: sign in with the GitHub App setup names instead; the cell shows where to
    approve and returns, and the unlock agent stores the tokens once approved."""
    if device:
        _login_device(url_or_host, username, _getpass)
    else:
        _login(url_or_host, username, expires, _getpass, _input)


def unlock() -> None:
    """Unlock the keyring after a restart: asks for the passphrase once."""
    _unlock(_getpass)


def _login(
    url_or_host: str,
    username: Optional[str],
    expires: Optional[str],
    ask_secret: Ask,
    ask_text: Ask,
) -> bool:
    try:
        conf = _settings()
        store = unlocking.open_store(conf, ask=ask_secret)
        what = account.login(
            conf, store, url_or_host, username, ask_text, ask_secret, expires, say=print
        )
    except UserError as exc:
        _say(str(exc))
        return False
    print(f"Stored the token for {what}; git push and pull now work without prompts.")
    return True


def _login_device(url_or_host: str, username: Optional[str], ask_secret: Ask) -> bool:
    """Unlock, then let the agent sign in: the URL and code shown, nothing waited for."""
    from git_credential_sagemaker.credential import device

    try:
        conf = _settings()
        where = account.target(url_or_host, username)
        flow = device.required_flow(where.protocol, where.host, run="!git-credential-sagemaker")
        store = unlocking.open_store(conf, ask=ask_secret)
        if conf.call_agent("status") is None:
            key = unlocking.unlock(conf, store, say=_say)
            if not store.path.exists():  # the agent stores into the file: it must exist
                store.transact(lambda parser, key: False)
            unlocking.start_agent(conf, key, strict=True)
        code = device.start_in_agent(
            conf.call_agent, where.protocol, where.host, where.username, flow
        )
        if code is None:
            raise UsageError("the unlock agent is not running; run %git_unlock, then this again")
    except UserError as exc:
        _say(str(exc))
        return False
    print(f"To sign in, open {code.verification_uri}")
    print(f"and enter the code {code.user_code}")
    print("Once you approve it there, git push and pull work; this cell need not wait.")
    return True


def _unlock(ask_secret: Ask) -> bool:
    try:
        conf = _settings()
        reply = conf.call_agent("status")
        if reply is not None and reply[0] == agentclient.OK:
            print("The keyring is already unlocked.")
            return True
        store = unlocking.open_store(conf, ask=ask_secret)
        if not store.path.exists():
            line = notebook_line("login", conf.prompter.magics)
            _say(f"nothing stored yet; in a notebook cell run: {line}")
            return False
        key = unlocking.unlock(conf, store, say=_say)
        unlocking.start_agent(conf, key, strict=True)
    except UserError as exc:
        _say(str(exc))
        return False
    print("The keyring is unlocked until this machine stops.")
    return True


def setup(
    name: Optional[str] = None,
    email: Optional[str] = None,
    repo: Optional[str] = None,
    migrate: bool = False,
    kms_key: Optional[str] = None,
) -> None:
    """`git-credential-sagemaker setup` in a notebook cell; input() asks for what is missing.

    kms_key, as `--kms-key`: after %git_unlock the unlock agent wraps its key, asking nothing.
    """
    from git_credential_sagemaker.provision import aws_setup
    from git_credential_sagemaker.provision import setup as provision

    try:
        aws_setup.check_value("kms_key", kms_key)
        where = provision.find_repo(repo, os.getcwd())
        why = None
        if where is None:
            why = (
                "this notebook's folder is not inside a git repository; for the notebook "
                "hooks, run setup(repo='PATH') with the repository's path"
            )
        aws = provision.AwsOptions(kms_key) if kms_key else None
        report = provision.setup(os.environ, _input, name, email, where, migrate, False, why, aws)
    except UserError as exc:
        _say(str(exc))
        return
    for line in report.lines():
        print(line)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext git_credential_sagemaker` gives `%git_login [--device] [URL or HOST]
    [USERNAME]` and `%git_unlock`, for a kernel whose env has the package but no startup
    file."""

    def git_login(line: str) -> None:
        words = line.split()
        device = "--device" in words
        words = [w for w in words if w != "--device"]
        target, user = words[0] if words else "github.com", words[1] if len(words) > 1 else None
        login(target, user, device=device)

    def git_unlock(line: str) -> None:
        unlock()

    ipython.register_magic_function(git_login, magic_kind="line", magic_name="git_login")
    ipython.register_magic_function(git_unlock, magic_kind="line", magic_name="git_unlock")


# -- the magics' other end: a child process whose prompts the kernel answers ---------------------


def _relayed(kind: str) -> Ask:
    """Ask through the magic in the kernel: the prompt out on stdout, the answer in on stdin."""

    def ask(prompt: str) -> Optional[str]:
        sys.stdout.write(f"\0{kind}\0{' '.join(prompt.splitlines())}\n")
        sys.stdout.flush()
        answer = sys.stdin.readline()
        return answer[:-1] if answer.endswith("\n") else None  # EOF: the user cancelled

    return ask


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%{self.prog}: {message}")


def _parser(action: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=f"git_{action}", add_help=False)
    if action == "login":
        parser.add_argument("target", nargs="?", default="github.com")
        parser.add_argument("username", nargs="?")
        parser.add_argument("--expires", metavar="DATE")
        parser.add_argument("--device", action="store_true")
    elif action != "unlock":
        parser.error("unknown; use %git_login or %git_unlock")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`%git_unlock` and `%git_login` run this; each prompt goes back to the kernel to answer."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # in order with the merged stderr
    words = list(sys.argv[1:] if argv is None else argv)
    action = words.pop(0) if words else ""
    try:
        args = _parser(action).parse_args(words)
    except UserError as exc:
        _say(str(exc))
        return 2
    secret, text = _relayed("secret"), _relayed("text")
    try:
        if action == "unlock":
            return 0 if _unlock(secret) else 1
        if args.device:
            return 0 if _login_device(args.target, args.username, secret) else 1
        return 0 if _login(args.target, args.username, args.expires, secret, text) else 1
    except OSError as exc:  # the pipe or the disk: one line, never a traceback in the cell
        _say(f"%git_{action} failed: {exc.strerror or type(exc).__name__}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
