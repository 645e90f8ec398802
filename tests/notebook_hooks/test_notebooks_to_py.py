"""notebooks-to-py called in-process on real git repos: what it writes, refuses and says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_hooks_support import (
    code_sources,
    git,
    make_notebook,
    printed_commands,
    read_notebook,
    run_printed,
    tree,
    write_notebook,
)

from git_credential_sagemaker.hooks import notebooks_to_py
from git_credential_sagemaker.hooks.cache import cache_path

main = notebooks_to_py.main


def hook(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def follow_hints(repo: Path, output: str) -> None:
    commands = printed_commands(output)
    assert commands, output
    for command in commands:
        run_printed(repo, command)


def test_a_notebook_saved_by_a_new_user_gets_a_script_and_a_git_add_hint(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "analysis.ipynb", make_notebook(["x = 1\nx"]))

    code, out = hook(capsys)

    assert code == 1
    text = (repo / "analysis.py").read_text()
    assert text.startswith("# ---\n# jupyter:\n")
    assert "# %% [markdown]\n# # Analysis" in text
    assert "# %%\nx = 1\nx\n" in text
    assert "output 1" not in text  # outputs never reach the script
    assert "run: git add -- analysis.py" in out
    follow_hints(repo, out)
    assert hook(capsys) == (0, "")
    git(repo, "commit", "-q", "-m", "Add the analysis")
    assert tree(repo) == [".gitignore", "README.md", "analysis.py"]


def test_notebooks_that_gitignore_hides_are_still_found(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "ignored.ipynb", make_notebook(["a = 1"]))
    assert git(repo, "check-ignore", "ignored.ipynb").returncode == 0

    assert hook(capsys)[0] == 1
    assert (repo / "ignored.py").exists()


def test_an_edited_notebook_refreshes_its_script(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))
    follow_hints(repo, hook(capsys)[1])
    git(repo, "commit", "-q", "-m", "Add a")

    write_notebook(repo / "a.ipynb", make_notebook(["x = 2", "y = x * 3"]))
    code, out = hook(capsys)

    assert code == 1
    assert "# %%\nx = 2\n\n# %%\ny = x * 3\n" in (repo / "a.py").read_text()
    assert "run: git add -- a.py" in out


def test_a_script_left_unstaged_keeps_blocking_the_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))
    assert hook(capsys)[0] == 1

    code, out = hook(capsys)  # nothing changed, but a.py is still not staged

    assert code == 1
    assert "run: git add -- a.py" in out


def test_a_staged_notebook_is_refused_with_git_rm_and_gitignore_hints(
    bare_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(bare_repo / "a.ipynb", make_notebook(["x = 1"]))
    git(bare_repo, "add", "a.ipynb")

    code, out = hook(capsys)

    assert code == 1
    assert "run: git rm --cached --quiet -- a.ipynb" in out
    assert "and ignore notebooks: echo '*.ipynb' >> .gitignore && git add .gitignore" in out
    follow_hints(bare_repo, out)
    assert hook(capsys) == (0, "")
    git(bare_repo, "commit", "-q", "-m", "Keep the script only")
    assert tree(bare_repo) == [".gitignore", "README.md", "a.py"]
    assert (bare_repo / "a.ipynb").exists()  # the user's notebook stays in the work tree


def test_a_tracked_notebook_in_an_ignoring_repo_gets_no_gitignore_hint(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))
    git(repo, "add", "-f", "a.ipynb")

    code, out = hook(capsys)

    assert code == 1
    assert "git rm --cached --quiet -- a.ipynb" in out
    assert ".gitignore" not in out


def test_gitignore_hint_keeps_a_last_line_without_newline_intact(
    bare_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bare_repo / ".gitignore").write_text("build/")  # no trailing newline
    write_notebook(bare_repo / "a.ipynb", make_notebook(["x = 1"]))
    git(bare_repo, "add", "a.ipynb")

    follow_hints(bare_repo, hook(capsys)[1])

    assert (bare_repo / ".gitignore").read_text() == "build/\n*.ipynb\n"
    assert hook(capsys) == (0, "")


def test_subfolders_spaces_and_unicode_names(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["reports/q1/sales.ipynb", "my analysis.ipynb", "données/été 2024.ipynb"]
    for name in names:
        write_notebook(repo / name, make_notebook([f"name = {name!r}"]))

    code, out = hook(capsys)

    assert code == 1
    for name in names:
        assert f"name = {name!r}" in (repo / name.replace(".ipynb", ".py")).read_text()
    follow_hints(repo, out)
    assert hook(capsys) == (0, "")
    git(repo, "commit", "-q", "-m", "Add notebooks' scripts")
    assert sorted(tree(repo)) == sorted(
        [".gitignore", "README.md", *(n.replace(".ipynb", ".py") for n in names)]
    )


def test_checkpoints_are_ignored(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_notebook(repo / ".ipynb_checkpoints/a-checkpoint.ipynb", make_notebook(["x = 1"]))
    write_notebook(repo / "sub/.ipynb_checkpoints/b-checkpoint.ipynb", make_notebook(["x = 1"]))

    assert hook(capsys) == (0, "")
    assert list(repo.rglob("*.py")) == []


def test_notebooks_in_a_gitignored_folder_stay_private(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".gitignore").write_text("*.ipynb\nscratch/\n")
    write_notebook(repo / "scratch/try.ipynb", make_notebook(["x = 1"]))
    write_notebook(repo / "keep.ipynb", make_notebook(["x = 1"]))

    code, out = hook(capsys)

    assert code == 1
    assert not (repo / "scratch/try.py").exists()
    assert "scratch" not in out
    assert "git add -- keep.py" in out


def test_a_prefix_pairing_puts_scripts_in_their_own_tracked_folder(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".gitignore").write_text("notebooks/\n")
    (repo / "jupytext.toml").write_text('formats = "notebooks///ipynb,scripts///py:percent"\n')
    write_notebook(repo / "notebooks/eda/explore.ipynb", make_notebook(["x = 1"]))

    code, out = hook(capsys)

    assert code == 1
    assert "# %%\nx = 1\n" in (repo / "scripts/eda/explore.py").read_text()
    assert "git add -- scripts/eda/explore.py" in out


def test_exclude_patterns_skip_notebooks(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_notebook(repo / "scratch/try.ipynb", make_notebook(["x = 1"]))
    write_notebook(repo / "keep.ipynb", make_notebook(["x = 1"]))

    assert hook(capsys, "--exclude", "scratch/*")[0] == 1

    assert not (repo / "scratch/try.py").exists()
    assert (repo / "keep.py").exists()


def test_a_corrupt_notebook_gets_a_one_line_error_and_the_others_still_convert(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "broken.ipynb").write_text('{"cells": [')
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}
    (repo / "old.ipynb").write_text(json.dumps(v3))
    write_notebook(repo / "good.ipynb", make_notebook(["x = 1"]))

    code, out = hook(capsys)

    assert code == 1
    assert (repo / "good.py").exists()
    assert not (repo / "broken.py").exists()
    assert not (repo / "old.py").exists()
    errors = [line for line in out.splitlines() if "error:" in line]
    assert len(errors) == 2
    assert errors[0].startswith("notebooks-to-py: error: broken.ipynb: not valid JSON")
    assert "--exclude, broken.ipynb" in errors[0]
    assert errors[1].startswith("notebooks-to-py: error: old.ipynb: nbformat 3 is not supported")
    upgrade = errors[1].split("upgrade it: ", 1)[1].split(", or skip it")[0]
    run_printed(repo, upgrade.replace("python ", f"{sys.executable} ", 1))
    assert json.loads((repo / "old.ipynb").read_text())["nbformat"] == 4


def test_a_notebook_without_kernelspec(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"], kernel_display=None))

    assert hook(capsys)[0] == 1

    text = (repo / "a.py").read_text()
    assert "kernelspec" not in text
    assert "# %%\nx = 1\n" in text


def test_a_new_jupytext_version_kernel_name_and_outputs_leave_the_script_byte_identical(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1", "print(x)"]))
    follow_hints(repo, hook(capsys)[1])
    before = (repo / "a.py").read_bytes()

    resaved = make_notebook(
        ["x = 1", "print(x)"],
        kernel_display="Python 3 (SageMaker Distribution 2.1)",
        jupytext_version="1.99.0",
        execution_offset=40,
    )
    resaved.cells[1].outputs[0].text = "something else entirely\n"
    write_notebook(repo / "a.ipynb", resaved)
    monkeypatch.setattr("jupytext.header.__version__", "9.9.9")  # as if jupytext was upgraded

    assert hook(capsys) == (0, "")
    assert (repo / "a.py").read_bytes() == before
    assert b"jupytext_version:" not in before
    assert b"display_name: Python 3 (ipykernel)" in before  # as JupyterLab's jupytext writes it


def test_a_script_edited_by_hand_and_a_changed_notebook_conflict_and_nothing_is_written(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))
    follow_hints(repo, hook(capsys)[1])
    git(repo, "commit", "-q", "-m", "Add a")
    hand_edited = (repo / "a.py").read_text().replace("x = 1", "x = 100  # tuned by hand")
    (repo / "a.py").write_text(hand_edited)
    write_notebook(repo / "a.ipynb", make_notebook(["x = 2"]))

    code, out = hook(capsys)

    assert code == 1
    assert (repo / "a.py").read_text() == hand_edited
    assert "a.ipynb and a.py were both edited" in out
    assert "git-credential-sagemaker-py-to-notebooks --overwrite a.py" in out
    assert hook(capsys)[0] == 1  # still a conflict on the next try

    code, out = hook(capsys, "--overwrite", "a.ipynb")
    assert code == 1
    assert "# %%\nx = 2\n" in (repo / "a.py").read_text()
    assert "git add -- a.py" in out


def test_a_fresh_clone_replaces_the_committed_script_when_the_notebook_changes(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))
    follow_hints(repo, hook(capsys)[1])
    git(repo, "commit", "-q", "-m", "Add a")
    os.remove(cache_path(str(repo / ".git")))  # as in a clone: no record of past conversions
    write_notebook(repo / "a.ipynb", make_notebook(["x = 3"]))

    assert hook(capsys)[0] == 1
    assert "# %%\nx = 3\n" in (repo / "a.py").read_text()


def test_the_repos_jupytext_config_picks_the_format(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))
    assert hook(capsys)[0] == 1
    assert "# %%\nx = 1" in (repo / "a.py").read_text()

    (repo / "jupytext.toml").write_text('formats = "ipynb,py:light"\n')
    assert hook(capsys)[0] == 1  # the configuration changed: the cache no longer applies

    text = (repo / "a.py").read_text()
    assert "format_name: light" in text
    assert "# %%" not in text


def test_a_broken_jupytext_config_is_named(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "jupytext.toml").write_text("formats = [unclosed\n")
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))

    code, out = hook(capsys)

    assert code == 1
    assert out.startswith("notebooks-to-py: error: jupytext.toml: ")
    assert out.rstrip().endswith("fix or remove jupytext.toml")
    assert not (repo / "a.py").exists()


def test_unchanged_notebooks_are_skipped_without_importing_jupytext(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        write_notebook(repo / f"n{i}.ipynb", make_notebook([f"x = {i}"]))
    follow_hints(repo, hook(capsys)[1])

    code = "from git_credential_sagemaker.hooks.notebooks_to_py import main; exit(main())"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "git_credential_sagemaker.hooks.notebooks_to_py" in imported
    assert not {name for name in imported if name.split(".")[0] in ("jupytext", "nbformat")}

    write_notebook(repo / "n1.ipynb", make_notebook(["x = 'changed'"]))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "jupytext" in {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}


def test_the_cache_forgets_a_notebook_deleted_with_its_script(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1"]))
    write_notebook(repo / "b.ipynb", make_notebook(["x = 1"]))
    hook(capsys)
    (repo / "a.ipynb").unlink()
    (repo / "a.py").unlink()
    (repo / "b.ipynb").unlink()  # b.py stays: a checkout may bring b.ipynb back from it

    hook(capsys)

    cached = json.loads(Path(cache_path(str(repo / ".git"))).read_text())["notebooks"]
    assert sorted(cached) == ["b.ipynb"]


def test_outside_a_repository_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([]) == 1
    assert "run it inside a git work tree" in capsys.readouterr().err


def test_both_edited_offers_no_fix_that_undoes_the_scripts_change(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1", "y = 1", "z = 0"]))
    follow_hints(repo, hook(capsys)[1])
    git(repo, "commit", "-q", "-m", "Add a")
    merged = (repo / "a.py").read_text().replace("x = 1", "x = 'merged'")
    (repo / "a.py").write_text(merged)  # as a merge leaves it
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1", "y = 'mine'", "z = 0"]))

    code, out = hook(capsys)

    assert code == 1
    assert "notebooks-to-py --overwrite" not in out  # it would replace a.py, undoing the merge
    fixes = [line.split(": ", 2)[-1] for line in out.splitlines() if line.startswith("  keep")]
    assert len(fixes) == 2
    run_printed(repo, fixes[0])  # keep both
    assert (repo / "a.py").read_text() == merged
    assert code_sources(read_notebook(repo / "a.ipynb")) == ["x = 'merged'", "y = 1", "z = 0"]
    assert code_sources(read_notebook(repo / "a.ipynb.mine")) == ["x = 1", "y = 'mine'", "z = 0"]
    assert read_notebook(repo / "a.ipynb").cells[3].outputs  # z = 0 is unchanged: output kept
    assert "both edited" not in hook(capsys)[1]  # in sync again: only `git add` is left
