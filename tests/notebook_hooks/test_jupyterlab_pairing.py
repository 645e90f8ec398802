"""JupyterLab's own jupytext pairing beside the notebook hooks, through a real Jupyter server.

Installing this package where JupyterLab runs installs jupytext, whose contents manager then
writes each notebook's paired `.py` at every save, as `jupytext.toml` asks. The hooks write the
same bytes for the same notebook, and a `.py` that holds the notebook's cells is in sync
whatever its header, so neither writer undoes the other and no commit is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyterserver import JupyterServer
from notebook_hooks_support import git, make_notebook

from git_credential_sagemaker.hooks import convert, pairing
from git_credential_sagemaker.provision.repo import JUPYTEXT_TOML_TEXT

pytestmark = pytest.mark.timeout(300)
REPO = "lab"


@pytest.fixture
def lab(make_user_repo: Any, tmp_path: Path) -> Iterator[tuple[Path, JupyterServer]]:
    repo = make_user_repo(REPO)
    (repo / "jupytext.toml").write_text(JUPYTEXT_TOML_TEXT)
    git(repo, "add", "jupytext.toml")
    git(repo, "commit", "-q", "-m", "Pair notebooks as setup does")
    with JupyterServer(tmp_path, dict(os.environ), repo.parent) as server:
        yield repo, server


def save(server: JupyterServer, sources: list[str]) -> None:
    notebook = json.loads(json.dumps(make_notebook(sources)))  # as JupyterLab sends it
    reply = server.save(f"{REPO}/explore.ipynb", notebook)
    assert reply.status in (200, 201), reply.body


def hooks_text(repo: Path) -> bytes:
    """What the notebook hooks write for the saved notebook."""
    notebook = convert.load_notebook((repo / "explore.ipynb").read_bytes())
    paired = pairing.Pairing(str(repo))
    _, fmt = paired.py_for_notebook("explore.ipynb")
    text = convert.notebook_to_text(
        notebook, paired.text_format(fmt, notebook.metadata), paired.config
    )
    return text.encode()


def test_a_notebook_saved_in_jupyterlab_commits_from_a_terminal_and_the_panel(
    lab: tuple[Path, JupyterServer],
) -> None:
    repo, server = lab
    save(server, ["x = 1", "y = x + 1"])

    written = (repo / "explore.py").read_bytes()  # by JupyterLab's jupytext, at the save
    assert b"y = x + 1" in written
    assert written == hooks_text(repo)  # one header, whichever of the two writes it
    (repo / "notes.txt").write_text("unrelated\n")
    git(repo, "add", "-A")
    done = git(repo, "commit", "-q", "-m", "Explore", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / "explore.py").read_bytes() == written  # the hook rewrote nothing
    assert git(repo, "show", "HEAD:explore.py").stdout.encode() == written

    # Saved again in JupyterLab, then staged and committed in the Git panel.
    save(server, ["x = 1", "y = x + 2"])
    assert b"y = x + 2" in (repo / "explore.py").read_bytes()
    staged = server.add_all(REPO)
    assert staged.status == 200, staged.body
    committed = server.commit(REPO, "Explore further")
    assert (committed.status, committed.body.get("code")) == (200, 0), committed.body
    assert "y = x + 2" in git(repo, "show", "HEAD:explore.py").stdout
    assert "explore.ipynb" not in git(repo, "ls-files").stdout
