# ruff: noqa: E501  (the shell templates read better unwrapped, as in provision/lifecycle)
"""The on-start script for a fleet: one Lifecycle Configuration for instances that never ran setup.

    lifecycle-script --fleet [--kms-key K] [--secret S] [--github-app ID] [--version V], anywhere
    root --as the user, now--> $STATE (0700), kernel startup file, include line,
                               pre-commit cache, links in ~/.local/bin     (seconds)
         --as the user, nohup ... &--> pick a Python, venv,
               pip install --no-index from $STATE/wheels  (the volume's wheelhouse)
               else pip wheel from the package index into $STATE/wheels, then the same
               --> the helper's launcher (provision/launcher)
               --> git-credential-sagemaker setup --no-repo [--kms-key K] [--secret S] [--github-app ID]
               --> one line per problem, then "ready" (stdout and $STATE/fleet.log)

The paths are every instance's (/home/ec2-user, GIT_CREDENTIAL_SAGEMAKER_ROOT standing in
for / in tests), so the script renders the same on a laptop or in CI. The slow half runs in
the background (AWS's `nohup ... &` pattern), so the script returns in seconds, well inside
the 5 minutes AWS allows, and it always exits 0. It shares its parts with the restore script
(provision/lifecycle) and keeps its rules: root runs only the user switch and echo.

Why it fills the wheelhouse with `pip wheel` before installing: the wheelhouse then holds
this version and its `[aws]` extra, so `setup` finds it current and leaves the venv alone
(it rebuilds a venv from a wheelhouse it made itself, which holds no extras), and the next
restart installs with no network.
"""

from __future__ import annotations

import os
import shlex
import unicodedata
from collections.abc import Mapping
from typing import Optional

from packaging.version import InvalidVersion, Version

from git_credential_sagemaker.credential import paths
from git_credential_sagemaker.errors import SetupError, UsageError
from git_credential_sagemaker.provision import aws_setup, lifecycle, wheelhouse
from git_credential_sagemaker.provision.machine import Layout

LOG = "fleet.log"

TEMPLATE = """#!/bin/bash
# On-start script for every SageMaker notebook instance of a fleet, written by
# `git-credential-sagemaker lifecycle-script --fleet`. No earlier setup is needed: it installs
# git-credential-sagemaker {version} for ec2-user (from the volume's wheelhouse, else the
# package index as pip is configured) and runs its setup in the background, so the instance
# starts at once. It always exits 0; each problem is one line here, in CloudWatch
# (/aws/sagemaker/NotebookInstances) and in $STATE/{log}, naming the fix.
STATE={state}
AS_USER="${{GCS_AS_USER:-sudo -u ec2-user -i}}"
# Only GCS_PYTHON crosses to the user: an index URL can carry a password, and whatever is
# passed here sits in the user switch's argv for the whole install. The user's pip reads
# pip.conf (/etc/pip.conf, ~/.config/pip/pip.conf) itself.
PASS=(GCS_PYTHON="${{GCS_PYTHON:-}}")
start() {{
    if ! $AS_USER env "${{PASS[@]}}" bash -s <<'USER_NOW'
{user_now}USER_NOW
    then
        echo "git-credential-sagemaker: not set up (see the line above); the instance works without it"
        return 0
    fi
    nohup $AS_USER env "${{PASS[@]}}" bash -s <<'USER_LATER' &
{user_later}USER_LATER
    echo "git-credential-sagemaker: installing {version} in the background; its lines follow, and are kept in $STATE/{log}"
}}
start 2>&1 || echo "git-credential-sagemaker: not set up; the instance works without it"
exit 0
"""

# As the user, before the slow half: what makes a kernel safe, and git's include line.
STATE_DIR = """if [ ! -d "$STATE" ] && ! mkdir -m 700 "$STATE"; then
    say "could not create $STATE; fix: check that the instance's volume is mounted"
    exit 1
fi
"""

# As the user, in the background: install the pinned version, then run its setup.
INSTALL = """LOG="$STATE"/{log}
W="$STATE/wheels"
: >"$LOG" 2>/dev/null
say() {{ echo "git-credential-sagemaker: $*"; echo "git-credential-sagemaker: $*" >>"$LOG" 2>/dev/null; }}
last() {{ printf '%s\\n' "$1" | grep . | tail -n 1 | sed -e 's/^ERROR: //' -e 's/^git-credential-sagemaker: //'; }}
REQ={req}
WANT=$(cat "$W/python-version" 2>/dev/null)
if ! PY=$(pick_python "$WANT") && ! PY=$(pick_python ""); then
    say "no Python 3.9 or later on this instance (tried: ${{GCS_PYTHON:-}} {pythons}); fix: set GCS_PYTHON at the top of the Lifecycle Configuration"
    exit 1
fi
rm -rf "$VENV"
if ! OUT=$("$PY" -I -m venv --without-pip "$VENV" 2>&1); then
    say "could not create a venv with $PY: $(last "$OUT")"
    exit 1
fi
from_wheels() {{  # the wheelhouse alone, whatever pip's config says: no network
    PIP_WHEEL=$(ls "$W"/pip-*.whl 2>/dev/null | head -n 1)
    [ -n "$PIP_WHEEL" ] && env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \\
        "$VENV/bin/python" -I "$PIP_WHEEL/pip" install --quiet --disable-pip-version-check --no-index --find-links "$W" "$1"
}}
from_index() {{  # what the wheelhouse lacks, from the index pip is configured with
    PIP_WHEEL=$(ls "$W"/pip-*.whl 2>/dev/null | head -n 1)
    PIP=("$VENV/bin/python" -I -m pip)
    if [ -n "$PIP_WHEEL" ]; then
        PIP=("$VENV/bin/python" -I "$PIP_WHEEL/pip")
    elif ! "$VENV/bin/python" -I -m ensurepip --default-pip >/dev/null 2>&1; then
        echo "no pip: $PY has no ensurepip, and $W no pip wheel"
        return 1
    fi
    mkdir -p "$W" && "${{PIP[@]}}" wheel --quiet --disable-pip-version-check --find-links "$W" --wheel-dir "$W" "$REQ" pip setuptools
}}
if ! from_wheels "$REQ" >/dev/null 2>&1; then
    if ! OUT=$(from_index 2>&1); then
        if from_wheels {plain} >/dev/null 2>&1; then
            say "installed {version} without its [aws] extra (boto3): $W lacks it, and the package index failed: $(last "$OUT"); fix: let the instance reach a package index (pip.conf or PIP_INDEX_URL), then restart it"
        else
            rm -rf "$VENV"
            say "not installed: $W lacks $REQ, and the package index failed: $(last "$OUT"); fix: let the instance reach a package index (pip.conf or PIP_INDEX_URL), then restart it"
            exit 1
        fi
    elif ! OUT=$(from_wheels "$REQ" 2>&1); then
        rm -rf "$VENV"
        say "not installed from $W: $(last "$OUT"); fix: move $W aside, then restart the instance"
        exit 1
    else
        "$PY" -I -c 'import sys; print("%d.%d" % sys.version_info[:2])' >"$W/python-version"
    fi
fi
"""

# As the user, in the background, once installed: run its setup, then report.
RUN_SETUP = """SETUP=({setup_args})
if ! OUT=$(env -u GIT_ASKPASS -u SSH_ASKPASS GIT_TERMINAL_PROMPT=0 {helper} setup "${{SETUP[@]}}" </dev/null 2>&1); then
    say "setup failed: $(last "$OUT"); fix: run git-credential-sagemaker setup --no-repo in a terminal"
    exit 1
fi
NOTES=$(printf '%s\\n' "$OUT" | sed -n 's/^note: //p')
IDENTITY='^user\\.\\(name\\|email\\) is not set'
if printf '%s\\n' "$NOTES" | grep -q "$IDENTITY"; then
    say "git can't commit yet: user.name and user.email are not set; fix: each user runs once in a terminal: git-credential-sagemaker setup --no-repo --name 'Your Name' --email you@example.com"
fi
printf '%s\\n' "$NOTES" | grep -v -e "$IDENTITY" -e '^$' | while IFS= read -r note; do
    say "$note"
done
say "ready: {version} in $VENV, and git uses it"
"""


def layout(env: Mapping[str, str]) -> Layout:
    """Every notebook instance's paths (under GIT_CREDENTIAL_SAGEMAKER_ROOT, for tests)."""
    volume, _ = paths.sagemaker_roots(env)
    return Layout(home=os.path.dirname(volume), state=os.path.join(volume, paths.STORE_DIRNAME))


def pinned(version: Optional[str]) -> str:
    """The version to install, normalized (PEP 440): --version, else this package's own."""
    if version is None:
        version = wheelhouse.installed_version()
        if version == "0":
            raise SetupError("this package's own version is unknown here; pass --version V")
    try:
        return str(Version(version))
    except InvalidVersion:
        raise UsageError(f"--version {version!r} is not a version; pass one like 1.2.0") from None


def option(name: str, value: Optional[str]) -> list[str]:
    """[name, value] for setup's command line, or [] when not given: refused here, by the
    same check setup makes, rather than at every start of every instance."""
    if value is None:
        return []
    if not value or any(unicodedata.category(c) == "Cc" for c in value):
        raise UsageError(f"{name} must be one line of text, with no control characters")
    aws_setup.check_value(name, value)
    return [name, value]


def render(
    env: Mapping[str, str],
    version: Optional[str] = None,
    kms_key: Optional[str] = None,
    secret: Optional[str] = None,
    github_app: Optional[str] = None,
) -> str:
    version = pinned(version)
    setup_args = ["--no-repo", *option("--kms-key", kms_key), *option("--secret", secret)]
    setup_args += option("--github-app", github_app)
    fields = lifecycle.fields(layout(env))
    fields.update(
        log=LOG,
        version=version,
        req=shlex.quote(f"{wheelhouse.PROJECT}[aws]=={version}"),
        plain=shlex.quote(f"{wheelhouse.PROJECT}=={version}"),
        setup_args=" ".join(shlex.quote(a) for a in setup_args),
    )
    now = lifecycle.PRELUDE + STATE_DIR + lifecycle.KERNEL_STARTUP + lifecycle.LINKS
    later = lifecycle.PRELUDE + lifecycle.PICK_PYTHON + INSTALL + lifecycle.LAUNCHER + RUN_SETUP
    script = TEMPLATE.format(
        user_now=now.format(**fields), user_later=later.format(**fields), **fields
    )
    return lifecycle.checked(script)
