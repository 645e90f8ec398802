"""Where SageMaker keeps things: the persistent store directory and the runtime directory.

Only one folder survives a restart: /home/ec2-user/SageMaker on a notebook instance,
/home/sagemaker-user in Studio. The store lives there; the agent's socket never does.
The candidate roots are parameters, so detection is testable on any machine.

`get` computes these on every push, from a launcher that starts Python without `site`, so
`os` is not loaded yet: importing it (and the ABCs it builds) would cost a tenth of the
request. Hence plain strings and the built-in `posix` module here, with os.path's exact
semantics for the paths git and the environment give (absolute, already normal); anything
else (a relative path, `~`, `..`) goes to os.path itself.
"""

from __future__ import annotations

import posix
import sys
from _stat import S_ISDIR

TYPE_CHECKING = False  # `get` computes these paths: no typing or collections at run time
if TYPE_CHECKING:
    from collections.abc import Mapping

APP = "git-credential-sagemaker"
STORE_DIRNAME = ".git-credential-sagemaker"
NOTEBOOK_INSTANCE_ROOT = "/home/ec2-user/SageMaker"
STUDIO_ROOT = "/home/sagemaker-user"
# Written by SageMaker on a notebook instance: its ResourceArn names the instance.
RESOURCE_METADATA = "/opt/ml/metadata/resource-metadata.json"


def join(path: str, *parts: str) -> str:
    """os.path.join, for str."""
    for part in parts:
        if part.startswith("/"):
            path = part
        elif not path or path.endswith("/"):
            path += part
        else:
            path += "/" + part
    return path


def absolute(path: str) -> str:
    """os.path.abspath(os.path.expanduser(path)): as it is when it is already absolute and
    normal, the usual case, else os.path's own answer."""
    names = path.split("/")
    if path.startswith("/") and "" not in names[1:] and "." not in names and ".." not in names:
        return path
    import os

    return os.path.abspath(os.path.expanduser(path))


def fsencode(path: str) -> bytes:
    """os.fsencode, for str."""
    return path.encode(sys.getfilesystemencoding(), "surrogateescape")


def isdir(path: str) -> bool:
    try:
        return S_ISDIR(posix.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def home(env: Mapping[str, str]) -> str:
    """$HOME, else the password database's (os.path.expanduser's rule)."""
    found = env.get("HOME")
    if found:
        return found
    import os

    return os.path.expanduser("~")


def sagemaker_roots(env: Mapping[str, str]) -> tuple[str, str]:
    """(notebook instance volume, Studio home), under $GIT_CREDENTIAL_SAGEMAKER_ROOT if set.

    The prefix lets a test (or an unusual image) stand in a fake root for `/`.
    """
    root = env.get("GIT_CREDENTIAL_SAGEMAKER_ROOT", "/")
    return (join(root, NOTEBOOK_INSTANCE_ROOT.lstrip("/")), join(root, STUDIO_ROOT.lstrip("/")))


def resource_metadata(env: Mapping[str, str]) -> str:
    """The instance's metadata file, under $GIT_CREDENTIAL_SAGEMAKER_ROOT if set."""
    root = env.get("GIT_CREDENTIAL_SAGEMAKER_ROOT", "/")
    return join(root, RESOURCE_METADATA.lstrip("/"))


def environment_kind(
    notebook_root: str = NOTEBOOK_INSTANCE_ROOT, studio_root: str = STUDIO_ROOT
) -> str:
    """'notebook-instance', 'studio' or 'other', from which persistent root exists."""
    if isdir(notebook_root):
        return "notebook-instance"
    if isdir(studio_root):
        return "studio"
    return "other"


def store_dir(
    env: Mapping[str, str],
    override: str | None = None,
    notebook_root: str = NOTEBOOK_INSTANCE_ROOT,
    studio_root: str = STUDIO_ROOT,
) -> str:
    """The keyring's directory: --dir, then $GIT_CREDENTIAL_SAGEMAKER_DIR, then detection."""
    explicit = override or env.get("GIT_CREDENTIAL_SAGEMAKER_DIR")
    if explicit:
        return absolute(explicit)
    if notebook_root == NOTEBOOK_INSTANCE_ROOT and studio_root == STUDIO_ROOT:
        notebook_root, studio_root = sagemaker_roots(env)
    kind = environment_kind(notebook_root, studio_root)
    if kind == "notebook-instance":
        return join(notebook_root, STORE_DIRNAME)
    if kind == "studio":
        return join(studio_root, STORE_DIRNAME)
    return join(data_home(env), APP)


def data_home(env: Mapping[str, str]) -> str:
    """$XDG_DATA_HOME, else ~/.local/share: where a user's own programs keep their data."""
    return env.get("XDG_DATA_HOME") or join(home(env), ".local", "share")


def runtime_dir(env: Mapping[str, str], uid: int | None = None) -> str:
    """The agent's socket directory: in memory-backed runtime space, never on the volume.

    $XDG_RUNTIME_DIR/git-credential-sagemaker, else /tmp/git-credential-sagemaker-UID. If
    that path is taken by anything but a private directory of ours (another user can
    create it in /tmp first), a directory under our own home is used instead.
    """
    uid = posix.getuid() if uid is None else uid
    xdg = env.get("XDG_RUNTIME_DIR")
    preferred = join(xdg, APP) if xdg else f"/tmp/{APP}-{uid}"  # noqa: S108
    if usable_private_dir(preferred, uid):
        return preferred
    return join(home(env), ".cache", f"{APP}-run")


def usable_private_dir(path: str, uid: int) -> bool:
    """Absent (we may create it), or a real directory of ours that nobody else can enter."""
    try:
        st = posix.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077
