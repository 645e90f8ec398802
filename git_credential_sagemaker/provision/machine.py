"""Which machine this is, and where things live on it: the facts every setup step starts from.

    env (GIT_CREDENTIAL_SAGEMAKER_ROOT for a fake root) --detect--> Machine(kind, layout)

Only a notebook instance has a Layout: Studio keeps its home directory, and other machines
keep everything, so neither needs anything restored after a restart.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from git_credential_sagemaker.credential import paths


@dataclass(frozen=True)
class Layout:
    """Where things live on one notebook instance (under a fake root in tests)."""

    home: str  # /home/ec2-user
    state: str  # /home/ec2-user/SageMaker/.git-credential-sagemaker

    @property
    def wheels(self) -> str:
        return f"{self.state}/wheels"

    @property
    def gitconfig(self) -> str:
        return f"{self.state}/gitconfig"

    @property
    def precommit_cache(self) -> str:
        return f"{self.state}/pre-commit-cache"

    @property
    def venv(self) -> str:
        return f"{self.home}/.local/share/git-credential-sagemaker/venv"

    @property
    def python(self) -> str:
        """The venv's interpreter: what a kernel's %git_unlock runs the package with."""
        return f"{self.venv}/bin/python"

    @property
    def ipython_startup(self) -> str:
        """The default IPython profile's startup folder, read by every kernel of the user."""
        return f"{self.home}/.ipython/profile_default/startup"

    @property
    def helper(self) -> str:
        """The helper's launcher (provision/launcher), beside the venv it starts: what git
        config names, so no PATH is needed."""
        return f"{self.home}/.local/share/{paths.APP}/bin/{paths.APP}"

    @property
    def user_bin(self) -> str:
        """The user's own bin directory, where the on-start script links the commands."""
        return f"{self.home}/.local/bin"

    @property
    def script(self) -> str:
        return f"{self.state}/on-start.sh"

    @property
    def restore_line(self) -> str:
        """The one terminal line that restores everything after a restart when no Lifecycle
        Configuration runs the saved script: root runs it, as AWS would, and it switches to
        the user itself."""
        return f"sudo bash {shlex.quote(self.script)}"


@dataclass(frozen=True)
class Machine:
    kind: str  # notebook-instance, studio or other
    layout: Optional[Layout]  # only on a notebook instance

    @classmethod
    def detect(cls, env: Mapping[str, str]) -> Machine:
        volume, studio = paths.sagemaker_roots(env)
        kind = paths.environment_kind(volume, studio)
        if kind != "notebook-instance":
            return cls(kind, None)
        return cls(kind, Layout(home=os.path.dirname(volume), state=paths.store_dir(env)))

    @property
    def config_scope(self) -> tuple[str, ...]:
        """Where setup writes git settings: the volume's file, or the global config."""
        return ("--file", self.layout.gitconfig) if self.layout else ("--global",)

    @property
    def script_path(self) -> Optional[Path]:
        return Path(self.layout.script) if self.layout else None
