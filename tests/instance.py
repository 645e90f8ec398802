"""A simulated notebook instance: a fake root holding /home/ec2-user with the SageMaker volume.

    Instance(user)          --> the instance's own user: no identity, a fake root, a terminal
    instance.restart()      --> a stop and start: only the volume is left, the package is gone
    instance.on_start()     --> the saved on-start script, run as the user, with no index

GIT_CREDENTIAL_SAGEMAKER_ROOT stands for /, so setup and the scripts it writes use the
instance's paths under the test's tmp_path.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from localindex import BASE_PYTHON
from support import User, isolated_env

__all__ = ["BASE_PYTHON", "Instance"]
INSTALL_TIMEOUT = 300.0  # setup on an instance builds the venv and hooks from the wheelhouse


class Instance:
    def __init__(self, user: User, wheels: Path | None = None, may_prompt: bool = True) -> None:
        """`wheels`: a wheelhouse to put on the volume first, as setup would build it."""
        self.user = user
        self.root = user.root / "fs"
        self.home = self.root / "home" / "ec2-user"
        self.volume = self.home / "SageMaker"
        self.volume.mkdir(parents=True)
        self.bin = self.root / "usr" / "local" / "bin"
        self.state = self.volume / ".git-credential-sagemaker"
        self.venv = self.home / ".local" / "share" / "git-credential-sagemaker" / "venv"
        user.env = isolated_env(
            self.home, runtime=user.runtime, identity=False, may_prompt=may_prompt
        )
        user.env["GIT_CREDENTIAL_SAGEMAKER_ROOT"] = str(self.root)
        if wheels is not None:
            self.state.mkdir(mode=0o700)
            skip = shutil.ignore_patterns("complete")
            shutil.copytree(wheels, self.state / "wheels", ignore=skip)
            version = f"{sys.version_info[0]}.{sys.version_info[1]}\n"
            (self.state / "wheels" / "python-version").write_text(version)
            user.env["GCS_PYTHON"] = BASE_PYTHON

    def run(
        self, *args: str, cwd: Path | None = None, timeout: float = INSTALL_TIMEOUT, **env: str
    ) -> subprocess.CompletedProcess[bytes]:
        return self.user.run(list(args), env=env, cwd=cwd, timeout=timeout)

    def restart(self) -> None:
        """What a stop and start does: only the volume is left, and the package is gone."""
        self.run("git-credential-sagemaker", "lock")
        shutil.rmtree(self.user.runtime)
        self.user.runtime.mkdir(mode=0o700)
        for child in self.home.iterdir():
            if child.name != "SageMaker":
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        # The venv this suite runs from stands for the user's pip install: drop it from PATH.
        # What is left is a login shell's PATH on the instance (~/.local/bin comes first).
        self.user.env["PATH"] = f"{self.home / '.local' / 'bin'}:{self.bin}:/usr/bin:/bin"

    def on_start(
        self, timeout: float = INSTALL_TIMEOUT, **env: str
    ) -> subprocess.CompletedProcess[bytes]:
        """The saved on-start script, as its root would run it but as this user, offline."""
        script = (self.state / "on-start.sh").read_text()
        return self.run(
            "bash",
            "-c",
            script,
            timeout=timeout,
            **{
                "GCS_AS_USER": "env",
                "GCS_PYTHON": BASE_PYTHON,
                "PIP_INDEX_URL": "http://127.0.0.1:9/none",
                **env,
            },
        )
