"""What every IPython kernel gets at start: `%git_unlock`, `%git_login`, and git that never waits.

    setup, the on-start script --write--> ~/.ipython/profile_default/startup/FILENAME
    a kernel starts --runs it--> env: GIT_TERMINAL_PROMPT=0, GIT_MERGE_AUTOEDIT=no, editors that
                                 fail at once with advice, and the marker the helper's hint reads
                                 PATH: the launcher's folder first, so `!git-credential-sagemaker
                                 status` works in a cell (that folder holds only our command)
                                 magics: %git_unlock, %git_login
    %git_unlock --kernel getpass (the password box)--> answer
        --the child's stdin pipe--> PYTHON -I ... git_credential_sagemaker.notebook unlock
        <--one line per prompt, on the child's stdout--

Why a startup file: a kernel runs in an env of its own (on a notebook instance, a conda env
that is fresh after every restart), so the notebook route can't import the package. The file
is standard library only and names, by absolute path, the interpreter that has the package:
the venv the on-start script rebuilds, or the Python that ran `setup` where home persists
(Studio, other machines). The package does the work in that interpreter, so the file stays
small and never needs to change with the package's internals. Secrets cross only the pipe:
never argv, the environment, or a file. The child starts isolated, from the interpreter's own
folder (git_credential_sagemaker.children): a notebook's folder may be a stranger's clone.

Why the environment: a cell's `!git` runs under a pseudo-terminal nobody can type into, so
git's own prompt, an editor, or an interactive rebase would wait forever. Only kernels get
it (a terminal IPython that runs the same file is left alone), and the marker tells the
helper that `%git_unlock` exists here, so its hint names that line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from git_credential_sagemaker import children
from git_credential_sagemaker.credential.files import atomic_write
from git_credential_sagemaker.credential.prompt import MAGICS_ENV
from git_credential_sagemaker.provision import launcher
from git_credential_sagemaker.provision.machine import Machine

FILENAME = "50-git-credential-sagemaker.py"
NOTEBOOK_MODULE = "git_credential_sagemaker.notebook"
NO_EDITOR = (
    'echo "git-credential-sagemaker: a notebook cell has no editor; '
    'pass -m MESSAGE or --no-edit, or use a terminal" >&2; false'
)
NO_SEQUENCE_EDITOR = (
    'echo "git-credential-sagemaker: a notebook cell has no editor; '
    'run an interactive rebase in a terminal" >&2; false'
)
# What a kernel's git gets: never git's own prompt, a merge that needs no message, editors
# that fail at once with advice, and the marker for the helper's hint.
KERNEL_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_MERGE_AUTOEDIT": "no",
    "GIT_EDITOR": NO_EDITOR,
    "GIT_SEQUENCE_EDITOR": NO_SEQUENCE_EDITOR,
    MAGICS_ENV: "1",
}

TEMPLATE = '''\
# git-credential-sagemaker: %git_unlock and %git_login in every kernel, and git commands in
# cells that fail at once with advice instead of waiting for a keyboard nobody can type on.
# Written by `git-credential-sagemaker setup` (and by the on-start script after a restart);
# standard library only, so it works whatever the kernel's env. setup rewrites it.
PYTHON = {python!r}
CHILD = {child!r}
COMMANDS = {commands!r}
FIX = {fix!r}
KERNEL_ENV = {{
{kernel_env}}}


def _git_credential_sagemaker(python, command, kernel_env, commands, fix):
    import getpass
    import os
    import shlex
    import subprocess

    from IPython import get_ipython

    say = "git-credential-sagemaker: "

    def relay(action, line):
        """Run the package's notebook front end in its own Python, answering its prompts here."""
        try:
            args = shlex.split(line)
        except ValueError as exc:
            print(say + "could not read the arguments: " + str(exc))
            return
        if not os.access(python, os.X_OK):
            print(say + "not installed at " + python + "; in a terminal run: " + fix)
            return
        child = subprocess.Popen(
            command + [action] + args,
            cwd=os.path.dirname(python),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
            errors="replace",
        )
        ours = False
        try:
            for out in child.stdout:
                if not out.startswith("\\0"):
                    ours = ours or out.startswith(say)
                    print(out, end="")
                    continue
                kind, _, prompt = out[1:].rstrip("\\n").partition("\\0")
                answer = getpass.getpass(prompt) if kind == "secret" else input(prompt)
                try:
                    child.stdin.write(answer.replace("\\r", "").split("\\n")[0] + "\\n")
                    child.stdin.flush()
                except BrokenPipeError:
                    pass  # it has ended; what it printed is still read above
        except (KeyboardInterrupt, EOFError):
            print(say + "cancelled; nothing was changed")
            child.kill()
            ours = True
        finally:
            for pipe in (child.stdin, child.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
            code = child.wait()
        if code and not ours:
            print(say + "the helper in " + python + " did not run; in a terminal run: "
                  "git-credential-sagemaker setup")

    def git_unlock(line):
        """%git_unlock: ask for the keyring's passphrase here, then git push and pull just work."""
        relay("unlock", line)

    def git_login(line):
        """%git_login [URL_OR_HOST] [USERNAME] [--expires YYYY-MM-DD]: store a token;
        %git_login --device [URL_OR_HOST]: sign in with the GitHub App setup names."""
        relay("login", line)

    shell = get_ipython()
    if shell is None:
        return
    shell.register_magic_function(git_unlock, "line", "git_unlock")
    shell.register_magic_function(git_login, "line", "git_login")
    if getattr(shell, "kernel", None) is not None:  # a kernel, not a terminal IPython
        os.environ.update(kernel_env)
        # `!git-credential-sagemaker status` in a cell: the kernel's env has no such command.
        path = os.environ.get("PATH", "")
        if commands not in path.split(os.pathsep):
            os.environ["PATH"] = commands + (os.pathsep + path if path else "")


try:
    _git_credential_sagemaker(PYTHON, CHILD, KERNEL_ENV, COMMANDS, FIX)
except Exception as exc:  # a broken startup file must never stop a kernel from starting
    print("git-credential-sagemaker: kernel startup failed: " + repr(exc))
del _git_credential_sagemaker, PYTHON, CHILD, KERNEL_ENV, COMMANDS, FIX
'''


def render(python: str, commands: str, fix: str = "git-credential-sagemaker setup") -> str:
    """The startup file, naming the interpreter that has the package: this one (with the
    folders it imports from), or a venv's, which finds the package by its own site;
    `commands`, the launcher's folder, which a kernel puts first on its PATH; and `fix`, the
    terminal line that brings that interpreter back (on an instance, the on-start script)."""
    env = "".join(f"    {name!r}: {value!r},\n" for name, value in KERNEL_ENV.items())
    child = children.argv(NOTEBOOK_MODULE, python=python)
    return TEMPLATE.format(python=python, child=child, kernel_env=env, commands=commands, fix=fix)


def fix_line(machine: Machine) -> str:
    """What brings the interpreter back: on an instance, the saved on-start script, which
    rebuilds the venv a restart (or anything else) took away; elsewhere, setup."""
    if machine.layout:
        return machine.layout.restore_line
    return "git-credential-sagemaker setup"


def commands_dir(machine: Machine, env: Mapping[str, str]) -> str:
    """The launcher's folder (provision/launcher): it holds only our command."""
    if machine.layout:
        return os.path.dirname(machine.layout.helper)
    return os.path.dirname(launcher.default_path(env))


def startup_dir(machine: Machine, env: Mapping[str, str]) -> Path:
    """The default profile's startup folder, where every kernel of this user looks."""
    if machine.layout:  # the on-start script writes the same place, with no IPYTHONDIR
        return Path(machine.layout.ipython_startup)
    ipython = env.get("IPYTHONDIR") or os.path.join(env.get("HOME") or "~", ".ipython")
    return Path(os.path.expanduser(ipython)) / "profile_default" / "startup"


def interpreter(machine: Machine) -> str:
    """The Python with the package: the venv on a notebook instance, else this one."""
    if machine.layout:
        return machine.layout.python
    return sys.executable  # not resolved: a venv's python finds its site-packages by its path


def install(machine: Machine, env: Mapping[str, str], dry_run: bool) -> list[str]:
    """Write the startup file unless it is already current; what changed, for setup's report."""
    path = startup_dir(machine, env) / FILENAME
    text = render(interpreter(machine), commands_dir(machine, env), fix_line(machine))
    if _current(path) == text:
        return []
    if not dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    return [
        f"kernel startup file (%git_unlock, %git_login; no prompt or editor in cells) for "
        f"kernels started from now on: {path}"
    ]


def is_current(machine: Machine, env: Mapping[str, str]) -> bool:
    """Whether the startup file is there and is what setup would write now."""
    path = startup_dir(machine, env) / FILENAME
    return _current(path) == render(
        interpreter(machine), commands_dir(machine, env), fix_line(machine)
    )


def _current(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
