"""Whether git was started by the JupyterLab Git panel, where no prompt of ours is answered.

    helper <- git <- (git's sh -c) <- git-remote-http <- git push <- LAUNCHER
    LAUNCHER a Jupyter server (jupyter-lab, jupyter-server, ...)  -> the Git panel
    LAUNCHER anything else (a shell, a kernel, an editor, a script) -> not the panel

The panel (jupyterlab-git) runs git from the Jupyter server. Its first try sets
GIT_TERMINAL_PROMPT=0; when git's error says "could not read Username", the panel asks for a
username and token in a dialog and reruns git on a pseudo-terminal (pexpect), answering only
git's own "Username for" and "Password for" prompts, with no timeout. A passphrase or token
prompt of ours on that terminal is never answered, and the panel hangs. The server adds
nothing else to git's environment, and its terminals are its children too (through a shell),
so the process tree is what tells the panel apart. Without /proc the answer is "no".
"""

from __future__ import annotations

import os
from typing import Optional

from git_credential_sagemaker.credential.paths import APP

#: How far up the tree to look. A panel's pull is 7 levels deep (git credential, sh,
#: git-remote-http, git remote-http, git fetch, git pull, the server); submodules add more.
MAX_DEPTH = 32
#: Programs, and `python -m` modules, that are a Jupyter server.
SERVER_PROGRAMS = frozenset(
    {
        "jupyter-lab",
        "jupyter-server",
        "jupyter-notebook",
        "jupyter-nbclassic",
        "jupyter-labhub",
        "jupyterhub-singleuser",
        "jupyverse",
    }
)
SERVER_MODULES = frozenset({"jupyterlab", "jupyter_server", "notebook", "nbclassic", "jupyverse"})
SERVER_SUBCOMMANDS = frozenset({"lab", "server", "notebook", "nbclassic"})
SHELLS = frozenset({"sh", "dash", "bash"})


def _parent_and_argv(pid: int) -> Optional[tuple[int, str, list[str]]]:
    """(parent pid, command name, argv) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode(errors="replace")
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return None
    name = text[text.find("(") + 1 : text.rfind(")")]
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[1]), name, argv
    except (IndexError, ValueError):
        return None


def _is_git(name: str) -> bool:
    return name == "git" or name.startswith("git-remote-")


def launcher(pid: Optional[int] = None) -> Optional[list[str]]:
    """argv of the process that started git for this helper: its nearest non-git ancestor.

    `pid` is where to start (default: our parent). git runs helpers through `sh -c`, so a
    shell whose own parent is git is passed over too.
    """
    found = _parent_and_argv(os.getppid() if pid is None else pid)
    for _ in range(MAX_DEPTH):
        if found is None:
            return None
        parent, name, argv = found
        above = _parent_and_argv(parent) if parent > 1 else None
        git_shell = (
            name in SHELLS and argv[1:2] == ["-c"] and above is not None and _is_git(above[1])
        )
        if not (_is_git(name) or git_shell):
            return argv
        found = above
    return None


def is_jupyter_server(argv: list[str]) -> bool:
    """Whether this command line runs a Jupyter server (directly, via `jupyter X` or `-m`)."""
    words = argv[:4]
    for i, word in enumerate(words):
        name = os.path.basename(word)
        after = words[i + 1] if i + 1 < len(words) else ""
        if name in SERVER_PROGRAMS:
            return True
        if name == "jupyter" and after in SERVER_SUBCOMMANDS:
            return True
        if word == "-m" and after in SERVER_MODULES:
            return True
    return False


def in_git_panel(pid: Optional[int] = None) -> bool:
    """Whether a Jupyter server (the Git panel) started the git that runs this helper."""
    argv = launcher(pid)
    return argv is not None and is_jupyter_server(argv)


def panel_hint(what: str, action: str) -> str:
    """The one line for the panel: its dialog asks instead, a terminal fixes it for good."""
    return (
        f"{APP}: {what}; the Git panel asks for a username and token instead, "
        f"or in a terminal run: {APP} {action}"
    )


def locked_in_panel(what: str) -> str:
    """The one line the panel shows as its error when a token is stored but locked away."""
    return (
        f"{APP}: {what}, so the Git panel can't use the token stored for this host; unlock it "
        f"with %git_unlock in a notebook cell, or in a terminal run: {APP} unlock"
    )


def kept_for_unlock() -> str:
    """The one line after the panel's dialog pushed while the keyring is locked."""
    return (
        f"{APP}: the token typed in the Git panel is kept sealed, and saved when the keyring is "
        f"next unlocked; to save it now, in a terminal run: {APP} unlock"
    )


def not_saved(keyring_exists: bool) -> str:
    """The one line after the panel's dialog pushed: its token was not saved, and why."""
    why, action = (
        ("the keyring is locked", "unlock") if keyring_exists else ("there is no keyring", "login")
    )
    return (
        f"{APP}: the token typed in the Git panel was not saved ({why}); "
        f"to save tokens, in a terminal run: {APP} {action}"
    )
