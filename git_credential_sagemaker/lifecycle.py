"""The on-start script for a SageMaker Lifecycle Configuration: restore git after a restart.

    root: check the wheelhouse --> as the user: pick a Python, venv, pip --no-index,
          include line, pre-commit cache --> root: link the console scripts onto PATH

A restart keeps only the volume. The script rebuilds the rest from what `setup` left there
(wheelhouse, git config file, pre-commit cache) with no network, in seconds. It runs as
root and does the user's part through `sudo -u ec2-user -i`; GCS_AS_USER, GCS_BIN_DIR and
GCS_PYTHON override that, the link directory and the interpreter (for tests and images
that differ). AWS limits the script to 16384 characters and 5 minutes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

MAX_CHARS = 16384
SCRIPTS = ("git-credential-sagemaker", "git-credential-sagemaker-notebooks-to-py",
           "git-credential-sagemaker-py-to-notebooks")
# Interpreters a notebook instance has: the Jupyter server's conda Python, then the system's.
PYTHONS = ("/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python",
           "/home/ec2-user/anaconda3/bin/python3", "/usr/bin/python3", "/usr/local/bin/python3")


@dataclass(frozen=True)
class Layout:
    """Where things live on one instance (a fake root in tests)."""

    home: str    # /home/ec2-user
    state: str   # /home/ec2-user/SageMaker/.git-credential-sagemaker

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


TEMPLATE = """#!/bin/bash
# On-start script for a SageMaker notebook instance's Lifecycle Configuration, written by
# `git-credential-sagemaker lifecycle-script`. It restores git's helper, config and hooks
# from the persistent volume with no network. Regenerate it after upgrading the package.
set -euo pipefail
STATE={state}
VENV={venv}
BIN_DIR="${{GCS_BIN_DIR:-/usr/local/bin}}"
AS_USER="${{GCS_AS_USER:-sudo -u ec2-user -i}}"
if [ ! -f "$STATE/wheels/python-version" ]; then
    echo "git-credential-sagemaker: no wheelhouse in $STATE/wheels; run git-credential-sagemaker setup once" >&2
    exit 1
fi

$AS_USER env GCS_PYTHON="${{GCS_PYTHON:-}}" bash -s <<'USER_PART'
{user_part}USER_PART

mkdir -p "$BIN_DIR"
for script in {scripts}; do
    ln -sf "$VENV/bin/$script" "$BIN_DIR/$script"
done
echo "git-credential-sagemaker: restored; the first git command asks for the keyring passphrase"
"""


USER_TEMPLATE = """set -euo pipefail
STATE={state}
VENV={venv}
WANT=$(cat "$STATE/wheels/python-version")
PY=""
for candidate in ${{GCS_PYTHON:-}} {pythons}; do
    if [ -x "$candidate" ] && [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$WANT" ]; then
        PY=$candidate
        break
    fi
done
if [ -z "$PY" ]; then
    echo "git-credential-sagemaker: no Python $WANT on this instance (tried: ${{GCS_PYTHON:-}} {pythons}); run setup again from a Python that exists here" >&2
    exit 1
fi
rm -rf "$VENV"
"$PY" -m venv --without-pip "$VENV"
PIP_WHEEL=$(ls "$STATE"/wheels/pip-*.whl | head -n 1)
"$VENV/bin/python" "$PIP_WHEEL/pip" install --quiet --disable-pip-version-check --no-index \\
    --find-links "$STATE/wheels" git-credential-sagemaker
if ! git config --global --get-all include.path | grep -qxF {gitconfig}; then
    git config --global --add include.path {gitconfig}
fi
mkdir -p {cache} {home}/.cache
if [ ! -L {home}/.cache/pre-commit ]; then
    if [ -e {home}/.cache/pre-commit ]; then
        mv {home}/.cache/pre-commit {home}/.cache/pre-commit.before-restore.$$
    fi
    ln -s {cache} {home}/.cache/pre-commit
fi
"""


def _fields(layout: Layout) -> dict[str, str]:
    q = shlex.quote
    return {"state": q(layout.state), "venv": q(layout.venv), "gitconfig": q(layout.gitconfig),
            "cache": q(layout.precommit_cache), "home": q(layout.home),
            "pythons": " ".join(q(p) for p in PYTHONS), "scripts": " ".join(SCRIPTS)}


def render_user_part(layout: Layout) -> str:
    """The user's half: also what `setup` runs once, so the venv exists from day one."""
    return USER_TEMPLATE.format(**_fields(layout))


def render(layout: Layout) -> str:
    script = TEMPLATE.format(user_part=render_user_part(layout), **_fields(layout))
    if len(script) > MAX_CHARS:  # a layout with absurd paths; never silently truncated
        raise ValueError(f"the on-start script is {len(script)} characters; AWS allows "
                         f"{MAX_CHARS}")
    return script
