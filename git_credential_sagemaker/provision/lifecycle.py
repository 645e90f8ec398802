"""The on-start script for a SageMaker Lifecycle Configuration: restore git after a restart.

    root: check the wheelhouse --> as the user: kernel startup file, pick a Python, venv,
          pip --no-index, the helper's launcher, include line, pre-commit cache, links in
          ~/.local/bin
          --> one line: restored

A restart keeps only the volume. The script rebuilds the rest from what `setup` left there
(wheelhouse, git config file, pre-commit cache) with no network, in seconds. The kernel
startup file (provision/kernel_startup) comes first: even if the install fails, no cell's
git waits for a prompt or an editor. The user's half is made of parts (PRELUDE,
KERNEL_STARTUP, PICK_PYTHON, LINKS) that the fleet's script (provision/fleet) shares.

Two rules keep the instance safe:
- It always exits 0. A failing on-start script fails the instance's start, which locks the
  user out of their notebooks; so each problem is one line on stdout (CloudWatch, log
  group /aws/sagemaker/NotebookInstances) naming the fix, and the instance stays usable.
- Root runs nothing the user can write. The user's half runs as the user
  (`sudo -u ec2-user -i`), and nothing is linked onto root's PATH: git config names the
  helper by its launcher's absolute path beside the user's venv, and the commands are linked
  into the user's own ~/.local/bin. Every Python it starts runs isolated (-I), so no folder
  or PYTHON* variable can change what it imports.

GCS_AS_USER and GCS_PYTHON override the user switch and the interpreter (for tests and
images that differ). AWS limits the script to 16384 characters and 5 minutes.
"""

from __future__ import annotations

import os
import shlex

from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.provision import kernel_startup
from git_credential_sagemaker.provision.machine import Layout

MAX_CHARS = 16384
SCRIPTS = (
    "git-credential-sagemaker",
    "git-credential-sagemaker-notebooks-to-py",
    "git-credential-sagemaker-py-to-notebooks",
)
# Interpreters a notebook instance has: the Jupyter server's conda Python, then the system's.
PYTHONS = (
    "/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python",
    "/home/ec2-user/anaconda3/bin/python3",
    "/usr/bin/python3",
    "/usr/local/bin/python3",
)


TEMPLATE = """#!/bin/bash
# On-start script for a SageMaker notebook instance's Lifecycle Configuration, written by
# `git-credential-sagemaker lifecycle-script`. It restores git's helper, config and hooks
# from the persistent volume with no network. Regenerate it after upgrading the package.
# It always exits 0, so a problem here never stops the instance from starting: each one is
# a line in CloudWatch (/aws/sagemaker/NotebookInstances) that names the fix.
STATE={state}
AS_USER="${{GCS_AS_USER:-sudo -u ec2-user -i}}"
restore() {{
    if [ ! -f "$STATE/wheels/python-version" ]; then
        echo "git-credential-sagemaker: not restored: no wheelhouse in $STATE/wheels; fix: run git-credential-sagemaker setup once in a terminal"
        return 0
    fi
    if ! $AS_USER env GCS_PYTHON="${{GCS_PYTHON:-}}" bash -s <<'USER_PART'
{user_part}USER_PART
    then
        echo "git-credential-sagemaker: not restored (see the line above); the instance works without it; fix: run git-credential-sagemaker setup in a terminal"
        return 0
    fi
    echo "git-credential-sagemaker: restored; the first git command asks for the keyring passphrase, unless a KMS key opens it"
}}
restore 2>&1 || echo "git-credential-sagemaker: not restored; fix: run git-credential-sagemaker setup in a terminal"
exit 0
"""

# -- the user's half, in parts: each is formatted with fields(layout) -------------------------

PRELUDE = """set -uo pipefail
STATE={state}
VENV={venv}
say() {{ echo "git-credential-sagemaker: $*"; }}
"""

KERNEL_STARTUP = """mkdir -p {startup_dir} && cat > {startup_tmp} <<'GCS_KERNEL_STARTUP' && mv -f {startup_tmp} {startup_file} || say "could not write {startup_file}; notebooks lack %git_unlock"
{startup}GCS_KERNEL_STARTUP
"""

# pick_python X.Y prints the first interpreter of that version; with "", any 3.9 or later.
PICK_PYTHON = """pick_python() {{
    for candidate in ${{GCS_PYTHON:-}} {pythons}; do
        if [ -x "$candidate" ]; then
            HAS=$("$candidate" -I -c 'import sys; print("%d.%d" % sys.version_info[:2] if sys.version_info >= (3, 9) else "")' 2>/dev/null)
            if [ -n "$HAS" ] && {{ [ -z "$1" ] || [ "$HAS" = "$1" ]; }}; then
                echo "$candidate"
                return 0
            fi
        fi
    done
    return 1
}}
"""

RESTORE_VENV = """WANT=$(cat "$STATE/wheels/python-version")
if ! PY=$(pick_python "$WANT"); then
    say "no Python $WANT on this instance (tried: ${{GCS_PYTHON:-}} {pythons}); fix: run git-credential-sagemaker setup again from a Python that exists here"
    exit 1
fi
rm -rf "$VENV"
if ! "$PY" -I -m venv --without-pip "$VENV"; then
    say "could not create a venv with $PY; fix: run git-credential-sagemaker setup in a terminal"
    exit 1
fi
PIP_WHEEL=$(ls "$STATE"/wheels/pip-*.whl 2>/dev/null | head -n 1)
REQ=git-credential-sagemaker
if ls "$STATE"/wheels/boto3-*.whl >/dev/null 2>&1; then
    REQ='git-credential-sagemaker[aws]'  # setup kept boto3: a KMS key or a secret is in use
fi
if [ -z "$PIP_WHEEL" ] || ! "$VENV/bin/python" -I "$PIP_WHEEL/pip" install --quiet --disable-pip-version-check --no-index \\
        --find-links "$STATE/wheels" "$REQ"; then
    say "could not install from the wheelhouse in $STATE/wheels; fix: run git-credential-sagemaker setup in a terminal"
    exit 1
fi
"""

# The launcher git config names (provision/launcher), written for the venv's own Python.
LAUNCHER = """if ! OUT=$("$VENV/bin/python" -I -m git_credential_sagemaker.provision.launcher {helper} 2>&1); then
    say "$OUT; fix: run git-credential-sagemaker setup in a terminal"
    exit 1
fi
"""

# The include line, the pre-commit cache on the volume, and the commands in ~/.local/bin
# (the main one is the launcher, so what the user types starts isolated too).
LINKS = """if ! git config --global --get-all include.path | grep -qxF {gitconfig}; then
    git config --global --add include.path {gitconfig}
fi
mkdir -p {cache} {home}/.cache {user_bin}
if [ ! -L {home}/.cache/pre-commit ]; then
    if [ -e {home}/.cache/pre-commit ]; then
        mv {home}/.cache/pre-commit {home}/.cache/pre-commit.before-restore.$$
    fi
    ln -s {cache} {home}/.cache/pre-commit
fi
for script in {scripts}; do
    ln -sfn "$VENV/bin/$script" {user_bin}/"$script"
done
ln -sfn {helper} {user_bin}/{app}
"""

USER_TEMPLATE = PRELUDE + KERNEL_STARTUP + PICK_PYTHON + RESTORE_VENV + LAUNCHER + LINKS


def fields(layout: Layout) -> dict[str, str]:
    """The layout's paths, shell-quoted, and the kernel startup file: what every part needs."""
    q = shlex.quote
    return {
        "state": q(layout.state),
        "venv": q(layout.venv),
        "gitconfig": q(layout.gitconfig),
        "cache": q(layout.precommit_cache),
        "home": q(layout.home),
        "user_bin": q(layout.user_bin),
        "pythons": " ".join(q(p) for p in PYTHONS),
        "scripts": " ".join(SCRIPTS[1:]),
        "app": q(SCRIPTS[0]),
        "helper": q(layout.helper),
        "startup_dir": q(layout.ipython_startup),
        "startup_file": q(f"{layout.ipython_startup}/{kernel_startup.FILENAME}"),
        "startup_tmp": q(f"{layout.ipython_startup}/.{kernel_startup.FILENAME}.tmp"),
        "startup": kernel_startup.render(
            layout.python, os.path.dirname(layout.helper), layout.restore_line
        ),
    }


def checked(script: str) -> str:
    """`script`, unless it is longer than AWS allows: never silently truncated."""
    if len(script) > MAX_CHARS:  # a layout with absurd paths
        raise SetupError(f"the on-start script is {len(script)} characters; AWS allows {MAX_CHARS}")
    return script


def render_user_part(layout: Layout) -> str:
    """The user's half: also what `setup` runs once, so the venv exists from day one."""
    return USER_TEMPLATE.format(**fields(layout))


def render(layout: Layout) -> str:
    return checked(TEMPLATE.format(user_part=render_user_part(layout), **fields(layout)))
