"""Whether and how to ask the user something: askpass, the terminal, or not at all.

One module owns the policy, because a prompt in the wrong place hangs a notebook cell:

    credential.interactive=false                            -> never prompt
    GIT_TERMINAL_PROMPT=0, outside a Jupyter kernel         -> never prompt
    askpass set (GIT_ASKPASS, core.askPass, SSH_ASKPASS)    -> run it (editors show a box)
    /dev/tty opens and we are not under a Jupyter kernel    -> getpass on the terminal
    otherwise                                               -> no prompt; one line of hint

stdin is git's pipe, never a keyboard, so the terminal is opened by name. In a kernel the
startup file (provision/kernel_startup) sets GIT_TERMINAL_PROMPT=0 to stop git's own prompt;
ours never reads a terminal there, so the hint (and quit=1) still apply. The hint names a
line for a cell: `%git_unlock` / `%git_login` where that file ran (it sets
GIT_CREDENTIAL_SAGEMAKER_MAGICS), so the line works whatever the kernel's env.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import io
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Callable, Optional

from git_credential_sagemaker.credential import context
from git_credential_sagemaker.credential.paths import APP
from git_credential_sagemaker.errors import PromptError

PROG = APP
ATTEMPTS = 3
# Set by the kernel startup file (provision/kernel_startup): %git_unlock and %git_login exist.
MAGICS_ENV = "GIT_CREDENTIAL_SAGEMAKER_MAGICS"

# Reads one git config value (None when unset); injected so tests and callers control it.
ConfigReader = Callable[[str], Optional[str]]


def in_jupyter_kernel(env: Mapping[str, str]) -> bool:
    """Child processes of a Jupyter kernel inherit these from jupyter_client and ipykernel."""
    return bool(
        env.get("JPY_PARENT_PID")
        or env.get("JPY_SESSION_NAME")
        or "matplotlib_inline" in env.get("MPLBACKEND", "")
    )


def notebook_line(action: str, magics: bool) -> str:
    """What to run in a cell: the magic where the startup file ran, else the import."""
    if magics:
        return f"%git_{action}"
    return f"from git_credential_sagemaker import {action}; {action}()"


def sanitize(value: str) -> str:
    """Percent-encode control characters so a hostile host name can't redraw the prompt."""
    return "".join(f"%{ord(c):02X}" if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in value)


def login_target(protocol: str, host: str) -> str:
    """A host as `login` takes it: bare for https (its default), else with its scheme."""
    shown = sanitize(host)
    return shown if protocol == "https" else f"{protocol}://{shown}"


@dataclasses.dataclass(frozen=True)
class Prompter:
    """The prompting policy, read once from the environment and git config."""

    allowed: bool
    askpass: Optional[str]
    in_kernel: bool
    tty_path: str = "/dev/tty"
    magics: bool = False  # the kernel startup file ran: %git_unlock and %git_login exist
    in_panel: bool = False  # the JupyterLab Git panel answers only git's own prompts

    @classmethod
    def load(cls, env: Mapping[str, str], config: ConfigReader) -> Prompter:
        in_kernel = in_jupyter_kernel(env)
        interactive = (config("credential.interactive") or "true").lower()
        # In a kernel nothing here reads a terminal, and GIT_TERMINAL_PROMPT=0 (set by the
        # startup file) only stops git's own prompt: the hint and quit=1 still apply.
        terminal = in_kernel or env.get("GIT_TERMINAL_PROMPT", "1") not in ("0", "false", "no")
        allowed = terminal and interactive not in ("false", "never", "0", "no", "off")
        askpass = env.get("GIT_ASKPASS") or config("core.askPass") or env.get("SSH_ASKPASS") or None
        return cls(
            allowed=allowed,
            askpass=askpass,
            in_kernel=in_kernel,
            magics=in_kernel and env.get(MAGICS_ENV) == "1",
            in_panel=not in_kernel and context.in_git_panel(),
        )

    def channel(self) -> Optional[str]:
        """'askpass', 'tty', or None when asking would be wrong or would hang."""
        if not self.allowed:
            return None
        if self.askpass:
            return "askpass"
        if self.in_kernel or self.in_panel:
            return None
        try:
            fd = os.open(self.tty_path, os.O_RDWR | os.O_NOCTTY)
        except OSError:
            return None
        os.close(fd)
        return "tty"

    def ask(self, text: str, secret: bool = True) -> Optional[str]:
        """One answer, or None when no prompt is possible here."""
        how = self.channel()
        if how == "askpass" and self.askpass:
            return _askpass(self.askpass, text)
        if how == "tty":
            return _tty(text, secret, self.tty_path)
        return None

    def hint(self, what: str, action: str = "login") -> str:
        """The one line that tells a user where they can type instead."""
        if self.in_panel:
            if action == "unlock":  # a token is stored: the dialog would only ask for it again
                return context.locked_in_panel(what)
            return context.panel_hint(what, action)
        if self.in_kernel:
            code = notebook_line(action, self.magics)
            return f"git-credential-sagemaker: {what}; in a notebook cell run: {code}"
        return f"git-credential-sagemaker: {what}; in a terminal run: {PROG} {action}"


def choose_passphrase(
    ask: Callable[[str], Optional[str]],
    store_path: str,
    unavailable: str = "no way to ask for a passphrase here",
) -> str:
    """Choose a passphrase: asked twice, up to three times, never blank."""
    for _ in range(ATTEMPTS):
        first = ask(f"Choose a passphrase for {store_path}: ")
        if first is None:
            raise PromptError(unavailable)
        if not first.strip():
            _say("git-credential-sagemaker: the passphrase can't be blank")
            continue
        if ask("Confirm the passphrase: ") == first:
            return first
        _say("git-credential-sagemaker: the passphrases did not match")
    raise PromptError("git-credential-sagemaker: no passphrase was chosen")


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _askpass(program: str, text: str) -> Optional[str]:
    try:
        done = subprocess.run(
            [program, text], capture_output=True, timeout=600, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace").rstrip("\r\n")


def _tty(text: str, secret: bool, tty_path: str) -> Optional[str]:
    try:
        fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
        with io.TextIOWrapper(io.FileIO(fd, "r+"), encoding="utf-8") as tty:
            if secret:
                return getpass.getpass(text, stream=tty)
            tty.write(text)
            tty.flush()
            line = tty.readline()
            if not line:
                return None
            return line.rstrip("\r\n")
    except (OSError, EOFError):
        return None
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            sys.stderr.write("\n")
        raise PromptError("git-credential-sagemaker: interrupted") from None
