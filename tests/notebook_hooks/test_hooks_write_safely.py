"""The hooks never write through a symlink or outside the repository, and replace files atomically.

A pulled commit can hold symbolic links: `a.ipynb -> /anywhere/file`, or a whole folder leading
elsewhere. These tests build such commits in real repositories and check that the file outside
is untouched, that the hook says why in one line, and that every write is a rename of a fully
written temp file.
"""

from __future__ import annotations

import os
import resource
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import jupytext
import pytest
from notebook_hooks_support import (
    BIN,
    code_sources,
    git,
    make_notebook,
    printed_commands,
    read_notebook,
    rebuilt,
    run_printed,
    write_notebook,
)

from git_credential_sagemaker.hooks import notebooks_to_py, py_to_notebooks, util

PREFIX_PAIRING = 'formats = "notebooks///ipynb,scripts///py:percent"\n'


def to_py(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = notebooks_to_py.main(list(args))
    return code, capsys.readouterr().out


def to_notebooks(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = py_to_notebooks.main(list(args))
    return code, capsys.readouterr().out


def script_text(*sources: str) -> str:
    """A jupytext script, as a teammate's hook would commit it."""
    text: str = jupytext.writes(make_notebook(list(sources)), fmt="py:percent")
    return text


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def commit_notebook(repo: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Save a.ipynb, commit its script as the pre-commit hook asks; return HEAD."""
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1", "y = 2"]))
    code, out = to_py(capsys)
    assert code == 1, out
    for command in printed_commands(out):
        run_printed(repo, command)
    git(repo, "commit", "-q", "-m", "Add a")
    return head(repo)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- the pulled commit of the issue: a.py and a symlink a.ipynb -> outside --------------------


@pytest.mark.parametrize("outside_exists", [False, True], ids=["missing", "existing"])
def test_a_pulled_symlink_notebook_never_receives_the_notebook(
    tmp_path: Path, make_user_repo: Callable[..., Path], outside_exists: bool
) -> None:
    outside = tmp_path / "elsewhere" / "file"
    outside.parent.mkdir()
    if outside_exists:
        outside.write_text("the user's own file\n")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    alice = make_user_repo("alice")
    git(alice, "remote", "add", "origin", str(origin))
    git(alice, "push", "-q", "-u", "origin", "main")
    git(tmp_path, "clone", "-q", str(origin), str(tmp_path / "bob"))
    bob = tmp_path / "bob"
    (bob / "a.py").write_text(script_text("x = 1"))
    (bob / "a.ipynb").symlink_to(outside)
    git(bob, "add", "-f", "a.py", "a.ipynb")
    git(bob, "commit", "-q", "-m", "Add a notebook script and a link")
    git(bob, "push", "-q")

    pull = git(alice, "pull", "-q")

    said = pull.stdout + pull.stderr
    if outside_exists:
        assert outside.read_text() == "the user's own file\n"
    else:
        assert not outside.exists()
    assert os.readlink(alice / "a.ipynb") == str(outside)
    lines = [line for line in said.splitlines() if "a.ipynb" in line]
    assert len(lines) == 1, said
    assert lines[0].startswith("py-to-notebooks: error: a.py -> a.ipynb is a symbolic link")
    assert f"outside the repository (to {outside})" in lines[0]


# --- a symlink at the path the hook writes ----------------------------------------------------


@pytest.mark.parametrize("leads", ["outside", "inside"])
def test_a_script_that_became_a_symlink_is_never_written_through(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], leads: str
) -> None:
    commit_notebook(repo, capsys)
    target = tmp_path / "elsewhere.py" if leads == "outside" else repo / "keep.py"
    if leads == "inside":
        target.write_text("KEEP = True\n")
    (repo / "a.py").unlink()
    (repo / "a.py").symlink_to(target)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Link a.py")
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1", "y = 3"]))

    code, out = to_py(capsys, "--overwrite", "a.ipynb")

    assert code == 1
    assert (repo / "a.py").is_symlink()
    if leads == "inside":
        assert target.read_text() == "KEEP = True\n"
        reason = f"a.py is a symbolic link (to {target}), and the hooks never write through one"
    else:
        assert not target.exists()
        reason = f"a.py is a symbolic link leading outside the repository (to {target})"
    assert out.startswith(f"notebooks-to-py: error: {reason}")
    assert "a.ipynb's script was not written" in out


def test_a_notebook_linked_outside_the_repository_is_not_read(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "private" / "secret.ipynb"
    write_notebook(secret, make_notebook(["token = 'private'"]))
    (repo / "a.ipynb").symlink_to(secret)
    write_notebook(repo / "shared" / "real.ipynb", make_notebook(["z = 26"]))
    (repo / "b.ipynb").symlink_to(repo / "shared" / "real.ipynb")

    code, out = to_py(capsys)

    assert code == 1
    assert not (repo / "a.py").exists()
    assert not any("private" in p.read_text() for p in repo.rglob("*.py"))
    lines = [line for line in out.splitlines() if "a.ipynb" in line]
    assert lines == [
        f"notebooks-to-py: error: a.ipynb is a symbolic link leading outside the repository "
        f"(to {secret}), so the hooks leave it alone; make it a regular file in the repository, "
        "or skip it with `args: [--exclude, a.ipynb]` in .pre-commit-config.yaml"
    ]
    assert "# %%\nz = 26\n" in (repo / "b.py").read_text()  # a link inside the repo is read


def test_a_pulled_script_linked_outside_the_repository_builds_no_notebook(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = tmp_path / "private.py"
    private.write_text(script_text("token = 'private'"))
    before = head(repo)
    (repo / "a.py").symlink_to(private)
    git(repo, "add", "a.py")
    git(repo, "commit", "-q", "-m", "Link a script")

    code, out = to_notebooks(capsys, "--from-ref", before, "--to-ref", head(repo))

    assert code == 1
    assert not (repo / "a.ipynb").exists()
    assert out.splitlines() == [
        f"py-to-notebooks: error: a.py is a symbolic link leading outside the repository "
        f"(to {private}), so the hooks leave it alone; no notebook was built from it"
    ]


# --- a symlinked folder on the way -------------------------------------------------------------


def test_a_script_folder_linked_outside_the_repository_gets_no_script(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "jupytext.toml").write_text(PREFIX_PAIRING)
    (repo / "scripts").symlink_to(elsewhere)
    write_notebook(repo / "notebooks" / "x.ipynb", make_notebook(["x = 1"]))

    code, out = to_py(capsys)

    assert code == 1
    assert list(elsewhere.iterdir()) == []
    assert out.startswith(
        "notebooks-to-py: error: scripts/x.py is in scripts/, a symbolic link leading outside "
        f"the repository (to {elsewhere}), so the hooks leave it alone"
    )


def test_a_pairing_that_points_outside_the_repository_gets_no_script(
    bare_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bare_repo / "jupytext.toml").write_text('formats = "ipynb,../escaped//py:percent"\n')
    write_notebook(bare_repo / "a.ipynb", make_notebook(["x = 1"]))

    code, out = to_py(capsys)

    assert code == 1
    assert not (tmp_path / "escaped").exists()
    assert out.startswith(
        "notebooks-to-py: error: ../escaped/a.py is outside the repository "
        f"({tmp_path / 'escaped' / 'a.py'}), so the hooks leave it alone"
    )


def test_a_pulled_notebook_folder_linked_outside_the_repository_gets_no_notebook(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = head(repo)
    (repo / "jupytext.toml").write_text(PREFIX_PAIRING)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "explore.py").write_text(script_text("import math", "math.pi"))
    (repo / "notebooks").symlink_to(elsewhere)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add a script and a link to a folder")

    code, out = to_notebooks(capsys, "--from-ref", before, "--to-ref", head(repo))

    assert code == 1
    assert list(elsewhere.iterdir()) == []
    assert out.startswith(
        "py-to-notebooks: error: scripts/explore.py -> notebooks/explore.ipynb is in notebooks/, "
        f"a symbolic link leading outside the repository (to {elsewhere})"
    )


def test_a_folder_link_that_stays_inside_the_repository_is_followed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = head(repo)
    (repo / "jupytext.toml").write_text(PREFIX_PAIRING)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "explore.py").write_text(script_text("import math", "math.pi"))
    (repo / "store").mkdir()
    (repo / "notebooks").symlink_to("store")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Keep notebooks in store/")

    assert to_notebooks(capsys, "--from-ref", before, "--to-ref", head(repo)) == (
        0,
        rebuilt("notebooks/explore.ipynb"),
    )

    notebook = read_notebook(repo / "store" / "explore.ipynb")
    assert code_sources(notebook) == ["import math", "math.pi"]


def test_the_cache_is_not_written_through_a_link_in_the_git_dir(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / ".git" / "git-credential-sagemaker").symlink_to(elsewhere)
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))

    code, out = to_py(capsys)

    assert code == 1
    assert list(elsewhere.iterdir()) == []
    assert (repo / "a.py").exists()
    assert "the hook's cache was not saved" in out
    assert f"leading outside the repository (to {elsewhere})" in out


def test_a_file_written_for_setup_is_never_written_through_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("keep\n")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / ".gitignore").symlink_to(outside)

    with pytest.raises(util.PathError, match=r"^\.gitignore is a symbolic link"):
        util.write_if_changed(str(tmp_path / "repo" / ".gitignore"), b"*.ipynb\n")

    assert outside.read_text() == "keep\n"


# --- atomic replacement --------------------------------------------------------------------------


def test_a_refreshed_script_is_a_new_file_with_the_old_mode(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit_notebook(repo, capsys)
    script = repo / "a.py"
    script.chmod(0o640)
    old = script.read_bytes()
    os.link(script, tmp_path / "hard-link.py")  # another name for the same file
    inode = script.stat().st_ino
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1", "y = 'refreshed'"]))

    code, out = to_py(capsys)

    assert code == 1, out
    assert "y = 'refreshed'" in script.read_text()
    assert script.stat().st_ino != inode
    assert stat.S_IMODE(script.stat().st_mode) == 0o640
    assert (tmp_path / "hard-link.py").read_bytes() == old
    assert leftovers(repo) == []


def test_a_rebuilt_notebook_is_a_new_file_with_the_old_mode(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = commit_notebook(repo, capsys)
    notebook = repo / "a.ipynb"
    notebook.chmod(0o600)
    inode = notebook.stat().st_ino
    (repo / "a.py").write_text((repo / "a.py").read_text().replace("y = 2", "y = 20"))
    git(repo, "commit", "-q", "-am", "Change a.py")

    assert to_notebooks(capsys, "--from-ref", before, "--to-ref", head(repo)) == (
        0,
        rebuilt("a.ipynb"),
    )

    assert code_sources(read_notebook(notebook)) == ["x = 1", "y = 20"]
    assert notebook.stat().st_ino != inode
    assert stat.S_IMODE(notebook.stat().st_mode) == 0o600
    assert leftovers(repo) == []


def test_a_write_that_fails_halfway_leaves_the_old_notebook_whole(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = commit_notebook(repo, capsys)
    old = (repo / "a.ipynb").read_bytes()
    limit = 512  # bytes any file the hook writes may hold: the notebook is larger
    assert len(old) > 2 * limit
    (repo / "a.py").write_text((repo / "a.py").read_text().replace("y = 2", "y = 20"))
    git(repo, "commit", "-q", "-am", "Change a.py")

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    hook = str(BIN / "git-credential-sagemaker-py-to-notebooks")
    proc = subprocess.run(
        [hook, "--from-ref", before, "--to-ref", head(repo)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=small_files,  # sets the limit in the child only
    )

    assert proc.returncode == 1
    assert (repo / "a.ipynb").read_bytes() == old
    assert leftovers(repo) == []
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "py-to-notebooks: error: a.py -> a.ipynb could not be written (File too large); the "
        "previous file is unchanged; the notebook was left as is. Fix it, then run "
        "git-credential-sagemaker-py-to-notebooks a.py"
    ]
