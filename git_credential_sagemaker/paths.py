"""Where SageMaker keeps things: the persistent store directory and the runtime directory.

Only one folder survives a restart: /home/ec2-user/SageMaker on a notebook instance,
/home/sagemaker-user in Studio. The store lives there; the agent's socket never does.
The candidate roots are parameters, so detection is testable on any machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

APP = "git-credential-sagemaker"
STORE_DIRNAME = ".git-credential-sagemaker"
NOTEBOOK_INSTANCE_ROOT = Path("/home/ec2-user/SageMaker")
STUDIO_ROOT = Path("/home/sagemaker-user")


def environment_kind(
    notebook_root: Path = NOTEBOOK_INSTANCE_ROOT, studio_root: Path = STUDIO_ROOT
) -> str:
    """'notebook-instance', 'studio' or 'other', from which persistent root exists."""
    if notebook_root.is_dir():
        return "notebook-instance"
    if studio_root.is_dir():
        return "studio"
    return "other"


def store_dir(
    env: Mapping[str, str],
    override: Optional[str] = None,
    notebook_root: Path = NOTEBOOK_INSTANCE_ROOT,
    studio_root: Path = STUDIO_ROOT,
) -> Path:
    """The keyring's directory: --dir, then $GIT_CREDENTIAL_SAGEMAKER_DIR, then detection."""
    explicit = override or env.get("GIT_CREDENTIAL_SAGEMAKER_DIR")
    if explicit:
        return Path(explicit).expanduser()
    kind = environment_kind(notebook_root, studio_root)
    if kind == "notebook-instance":
        return notebook_root / STORE_DIRNAME
    if kind == "studio":
        return studio_root / STORE_DIRNAME
    data_home = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")) / ".local" / "share")
    return Path(data_home).expanduser() / APP


def runtime_dir(env: Mapping[str, str], uid: Optional[int] = None) -> Path:
    """The agent's socket directory: in memory-backed runtime space, never on the volume."""
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / APP
    return Path("/tmp") / f"{APP}-{os.getuid() if uid is None else uid}"  # noqa: S108
