"""git's own test of external credential helpers, t0303, run against ours.

It is the suite git asks helper authors to pass (`make GIT_TEST_CREDENTIAL_HELPER=foo
t0303-credential-external.sh`): store, get and erase, matching on protocol, host, username and
path, overwriting, expiry and refresh tokens, all through real `git credential`, and with
nothing on stderr. It runs from the newest git's source tree, which .ci/build-git keeps.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gits import newest_source
from support import BIN, PASSPHRASE, User, run


def test_the_helper_passes_gits_own_external_helper_tests(user: User, tmp_path: Path) -> None:
    source = newest_source()
    if source is None:
        pytest.skip("the newest git is not built: run `bash .ci/build-git` (sets GCS_NEWEST_GIT)")
    env = {
        **user.env,
        "PATH": f"{BIN}{os.pathsep}{user.env['PATH']}",  # git finds git-credential-sagemaker
        "GIT_TEST_CREDENTIAL_HELPER": "sagemaker",
        # test-lib clears every GIT_* variable: the setup line puts the passphrase back.
        "GIT_TEST_CREDENTIAL_HELPER_SETUP": (
            f"export GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE='{PASSPHRASE}'"
        ),
    }

    done = run(
        ["sh", "t0303-credential-external.sh", f"--root={tmp_path / 'trash'}"],
        env=env,
        cwd=source / "t",
        timeout=300,
    )

    out = done.stdout.decode(errors="replace")
    assert done.returncode == 0, out + done.stderr.decode(errors="replace")
    assert "# passed all" in out and "not ok" not in out, out
