"""How every Python child of ours starts: isolated, finding our package where we found it.

    argv(module, args) --> [python, "-I", "-c", BOOT, IMPORT_PATH, module, *args]
    cwd=own_folder(python): the interpreter's own folder, never the caller's

git runs a helper from the top of the work tree, and a kernel runs from the notebook's folder:
both may be a stranger's clone. `python -m` would put that folder first on sys.path, so a
planted `git_credential_sagemaker/` (or `keyring/`, `jupytext/` ...) would be imported in
place of ours and handed the keyring's key. `-I` ignores the current folder, every PYTHON*
variable and the user's site-packages. Isolation alone would lose the package wherever `site`
was what found it (`pip install --user`, an editable install), so BOOT puts back, in front,
the folder this process imported the package from, and after the child's own path the
folders its dependencies came from: named in argv, fixed when the child starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Optional

# What the child runs under -I: our package's folder first, then the rest after its own path.
BOOT = (
    "import os, runpy, sys\n"
    "ours, *rest = sys.argv[1].split(os.pathsep)\n"
    "module = sys.argv[2]\n"
    "del sys.argv[1:3]\n"
    "sys.path.insert(0, ours)\n"
    "sys.path.extend(p for p in rest if p not in sys.path)\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)
SITE_FOLDERS = ("site-packages", "dist-packages")


def package_folder() -> str:
    """The folder that holds the `git_credential_sagemaker` this process runs."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_path() -> list[str]:
    """Our package's folder, then the site-packages folders of sys.path that belong to this
    interpreter or the user's own Python base: the same however this process was started,
    and never the current folder, a notebook's folder or a stranger's PYTHONPATH entry."""
    roots = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    user_base = _user_base()
    if user_base:
        roots.append(user_base)
    prefixes = tuple(os.path.realpath(root) + os.sep for root in roots)
    found = [package_folder()]
    for entry in sys.path:
        if entry in found or os.path.basename(entry) not in SITE_FOLDERS:
            continue
        if os.path.realpath(entry).startswith(prefixes) and os.path.isdir(entry):
            found.append(entry)
    return found


def _site_packages() -> list[str]:
    """This interpreter's own site-packages, which `-I` keeps (the user's it drops)."""
    try:
        import site

        return site.getsitepackages()
    except (ImportError, AttributeError):
        return []


def _user_base() -> Optional[str]:
    """Where `pip install --user` puts packages for this Python (~/.local), if it has one."""
    try:
        import site

        return site.getuserbase()
    except (ImportError, AttributeError):
        return None


def argv(
    module: str,
    args: Sequence[str] = (),
    python: Optional[str] = None,
    path: Optional[Sequence[str]] = None,
) -> list[str]:
    """The command that runs `module` as __main__ in `python` (this one), isolated.

    `path` defaults to import_path(): right for this interpreter only. Another interpreter
    (a venv's) is given the package's folder, or nothing, and finds the rest by its own site.
    """
    python = python or sys.executable
    if path is None:
        path = import_path() if python == sys.executable else ()
        if path and path[0] in _site_packages():
            path = ()  # where the child's own site looks: a plain -I -m reads better in ps
    if not path:
        return [python, "-I", "-m", module, *args]
    return [python, "-I", "-c", BOOT, os.pathsep.join(path), module, *args]


def own_folder(python: Optional[str] = None) -> str:
    """A working folder for a child that needs none: the interpreter's own, which nobody who
    only controls a clone can write, rather than whatever folder the caller was in."""
    return os.path.dirname(os.path.abspath(python or sys.executable))
