"""Colleagues who clone a repository that `setup` prepared, with real pre-commit and real git.

The colleague has pre-commit alone (a venv holding nothing of ours, and a PATH without our
commands); their pip sees no index but a folder of wheels, standing in for the package index.
The SageMaker user's side runs `setup` as they would. Nothing here needs the network.
"""

from __future__ import annotations

import difflib
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from localindex import pip_env, venv_with_pre_commit, wheel_dir
from ruamel.yaml import YAML
from support import BIN, IDENTITY, User, isolated_env, run

from git_credential_sagemaker.provision.precommit_config import (
    HOOK_TYPES,
    LOCAL_HOOKS,
    VERSION,
    config_state,
)

APP = str(BIN / "git-credential-sagemaker")
PIN = f"git-credential-sagemaker=={VERSION}"


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def colleague_venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    return venv_with_pre_commit(tmp_path_factory.mktemp("colleague") / "venv", wheels)


class Colleague:
    """Someone else's machine: their own HOME and pre-commit cache, pre-commit on PATH, no us."""

    def __init__(self, root: Path, venv: Path, wheels: Path | None) -> None:
        self.home = root / "colleague-home"
        self.home.mkdir()
        self.env = isolated_env(self.home)
        self.env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
        self.env.update(pip_env(wheels if wheels is not None else root / "no-wheels"))
        assert (
            shutil.which("git-credential-sagemaker-notebooks-to-py", path=self.env["PATH"]) is None
        )

    def run(self, *args: str, cwd: Path) -> tuple[int, str]:
        done = run(list(args), env=self.env, cwd=cwd, timeout=300)
        return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


def save_notebook(path: Path, source: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, str(path))


def code_of(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]


SCRIPT = """\
# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %%
{}
"""


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A repository the SageMaker user set up and committed twice: analysis.py, x = 1 then 2."""
    with User(tmp_path_factory.mktemp("owner")) as owner:
        repo = owner.root / "origin"
        assert owner.git("init", "-q", "-b", "main", str(repo)).returncode == 0
        done = owner.run([APP, "setup", "--repo", str(repo)])
        assert done.returncode == 0, done.stderr
        for source in ("x = 1", "x = 2"):
            (repo / "analysis.py").write_text(SCRIPT.format(source))
            owner.git("add", "-A", cwd=repo)
            done = owner.git("commit", "-q", "--no-verify", "-m", source, cwd=repo)
            assert done.returncode == 0, done.stderr
        assert owner.git("ls-files", cwd=repo).stdout.split() == [
            b".gitignore",
            b".pre-commit-config.yaml",
            b"analysis.py",
            b"jupytext.toml",
        ]
        yield repo


def test_a_colleagues_plain_pre_commit_install_builds_and_runs_the_hooks(
    tmp_path: Path, origin: Path, colleague_venv: Path, wheels: Path
) -> None:
    config = YAML(typ="safe").load((origin / ".pre-commit-config.yaml").read_text())
    assert config["default_install_hook_types"] == list(HOOK_TYPES)
    assert config["repos"] == [{"repo": "local", "hooks": list(LOCAL_HOOKS)}]
    assert all(h["additional_dependencies"] == [PIN] for h in LOCAL_HOOKS)

    colleague = Colleague(tmp_path, colleague_venv, wheels)
    clone = tmp_path / "clone"
    assert colleague.run("git", "clone", "-q", str(origin), str(clone), cwd=tmp_path)[0] == 0
    code, said = colleague.run("pre-commit", "install", cwd=clone)
    assert code == 0, said
    assert [t for t in HOOK_TYPES if (clone / ".git" / "hooks" / t).exists()] == list(HOOK_TYPES)

    # A checkout rebuilds the notebook: pre-commit built the environment from the "index".
    code, said = colleague.run("git", "checkout", "-q", "HEAD~1", cwd=clone)
    assert code == 0, said
    assert "Installing environment" in said and "not found" not in said
    assert code_of(clone / "analysis.ipynb") == ["x = 1"]
    code, said = colleague.run("git", "checkout", "-q", "main", cwd=clone)
    assert code == 0 and "Installing environment" not in said, said  # built once, reused
    assert code_of(clone / "analysis.ipynb") == ["x = 2"]

    # A commit of a changed notebook writes its script and asks for it to be staged.
    save_notebook(clone / "analysis.ipynb", "x = 3")
    env = {**colleague.env, **IDENTITY}
    refused = run(["git", "commit", "-qam", "x = 3"], env=env, cwd=clone)
    assert refused.returncode == 1
    assert b"git add -- analysis.py" in refused.stdout + refused.stderr
    assert run(["git", "add", "analysis.py"], env=env, cwd=clone).returncode == 0
    committed = run(["git", "commit", "-qm", "x = 3"], env=env, cwd=clone)
    assert committed.returncode == 0, committed.stderr
    assert re.search(rb"notebooks to \.py scripts\.+Passed", committed.stdout + committed.stderr)
    shown = run(["git", "show", "HEAD:analysis.py"], env=env, cwd=clone).stdout
    assert b"x = 3" in shown


def test_a_colleague_without_network_is_told_what_is_missing(
    tmp_path: Path, origin: Path, colleague_venv: Path, wheels: Path
) -> None:
    colleague = Colleague(tmp_path, colleague_venv, None)  # no index, no wheels
    clone = tmp_path / "clone"
    assert colleague.run("git", "clone", "-q", str(origin), str(clone), cwd=tmp_path)[0] == 0
    assert colleague.run("pre-commit", "install", cwd=clone)[0] == 0
    (clone / "notes.txt").write_text("notes\n")
    colleague.run("git", "add", "notes.txt", cwd=clone)
    done = run(["git", "commit", "-qm", "notes"], env={**colleague.env, **IDENTITY}, cwd=clone)
    said = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode != 0
    assert "Executable" not in said and "not found" not in said
    assert "No matching distribution found" in said  # pip's line: nothing to install from
    assert (
        run(["git", "rev-list", "--count", "HEAD"], env=colleague.env, cwd=clone).stdout == b"2\n"
    )
    # The config they were given says what to do about it, and doing it works.
    fix = "PIP_NO_INDEX=1 PIP_FIND_LINKS=<a folder of its wheels> pre-commit install-hooks"
    assert fix in (clone / ".pre-commit-config.yaml").read_text()
    env = {**colleague.env, **pip_env(wheels)}
    assert run(["pre-commit", "install-hooks"], env=env, cwd=clone, timeout=300).returncode == 0
    done = run(["git", "commit", "-qm", "notes"], env={**env, **IDENTITY}, cwd=clone)
    assert done.returncode == 0, done.stderr


OLD_CONFIG = """\
# Checks for this project
repos:
-   repo: meta
    hooks:
    -   id: check-useless-excludes
-   repo: local
    hooks:
    -   id: no-secrets  # ours
        name: no secrets
        entry: 'true'
        language: system
# Notebook hooks of git-credential-sagemaker; system hooks need no network.
-   repo: local
    hooks:
    -   id: notebooks-to-py
        name: notebooks to .py scripts
        entry: git-credential-sagemaker-notebooks-to-py
        language: system
        pass_filenames: false
        always_run: true
        stages: [pre-commit]
    -   id: py-to-notebooks
        name: .py scripts to notebooks
        entry: git-credential-sagemaker-py-to-notebooks
        language: system
        pass_filenames: false
        always_run: true
        stages: [post-checkout, post-merge, post-rewrite]
# the end
"""


def test_an_old_system_entry_moves_to_python_and_nothing_else_changes(user: User) -> None:
    repo = user.root / "repo"
    assert user.git("init", "-q", str(repo)).returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(OLD_CONFIG)
    done = user.run([APP, "setup", "--repo", str(repo)])
    assert done.returncode == 0, done.stderr
    said = done.stdout.decode()
    assert "the notebooks-to-py and py-to-notebooks hooks now install" in said
    assert "default_install_hook_types now lists" in said

    new = (repo / ".pre-commit-config.yaml").read_text()
    diff = list(difflib.ndiff(OLD_CONFIG.splitlines(), new.splitlines()))
    removed = [line[2:].strip() for line in diff if line.startswith("- ")]
    added = [line[2:].strip() for line in diff if line.startswith("+ ")]
    assert removed == [
        "# Notebook hooks of git-credential-sagemaker; system hooks need no network.",
        "language: system",
        "language: system",
        "stages: [post-checkout, post-merge, post-rewrite]",
    ]
    assert added == [
        "# Notebook hooks of git-credential-sagemaker; pre-commit installs it from the package "
        "index (not there? PIP_NO_INDEX=1 PIP_FIND_LINKS=<a folder of its wheels> pre-commit "
        "install-hooks)",
        "language: python",
        "language_version: python3",
        f"additional_dependencies: [{PIN}]",
        "language: python",
        "language_version: python3",
        f"additional_dependencies: [{PIN}]",
        "stages: [post-checkout, post-merge, post-rewrite, post-commit, manual]",
        "verbose: true",
        "# A plain `pre-commit install` sets up every git hook the notebook hooks use.",
        f"default_install_hook_types: [{', '.join(HOOK_TYPES)}]",
    ]
    data = YAML(typ="safe").load(new)
    assert data["repos"][2] == {"repo": "local", "hooks": list(LOCAL_HOOKS)}
    run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=repo,
        check=True,
    )

    # Our hooks now read exactly as in a new config, which a colleague's pre-commit builds.
    again = user.run([APP, "setup", "--repo", str(repo)]).stdout.decode()
    assert "everything is already set up" in again and "changed:" not in again, again


# --- what setup changes in a config, and what it leaves alone --------------------------------

OURS = "git-credential-sagemaker-notebooks-to-py"
EDITS = {
    # an older pin, quoted, in a block list of the user's own: only that item changes
    "older pin": (
        "default_install_hook_types: [pre-commit, post-checkout, post-merge, post-rewrite]\n"
        "repos:\n- repo: local\n  hooks:\n  - id: notebooks-to-py\n    name: n\n"
        f"    entry: {OURS}\n    language: python\n    additional_dependencies:\n"
        "    - 'git-credential-sagemaker==0.0.1'  # pinned\n    - pandas\n"
        "  - id: py-to-notebooks\n    name: p\n"
        "    entry: git-credential-sagemaker-py-to-notebooks\n"
        f"    language: python\n    additional_dependencies: [pandas, {PIN}]\n",
        [
            (
                "default_install_hook_types: [pre-commit, post-checkout, post-merge, post-rewrite]",
                "default_install_hook_types: [pre-commit, post-checkout, post-merge, post-rewrite, "
                "post-commit]",
            ),
            ("    - 'git-credential-sagemaker==0.0.1'  # pinned", f"    - {PIN}  # pinned"),
        ],
    ),
    # the user's own hook types stay, ours are added to the same one-line list
    "hook types": (
        "default_install_hook_types: [pre-commit, commit-msg]  # mine\n"
        "repos:\n- repo: local\n  hooks:\n"
        + "".join(
            f"  - id: {h['id']}\n    name: n\n    entry: {h['entry']}\n    language: python\n"
            f"    additional_dependencies: [{PIN}]\n"
            for h in LOCAL_HOOKS
        ),
        [
            (
                "default_install_hook_types: [pre-commit, commit-msg]  # mine",
                "default_install_hook_types: [pre-commit, commit-msg, post-checkout, post-merge, "
                "post-rewrite, post-commit]  # mine",
            )
        ],
    ),
}


@pytest.mark.parametrize("case", list(EDITS))
def test_setup_changes_only_the_lines_it_must(tmp_path: Path, case: str) -> None:
    text, changed = EDITS[case]
    (tmp_path / ".pre-commit-config.yaml").write_text(text)
    state = config_state(str(tmp_path))
    assert state.merged is not None
    pairs = list(zip(text.splitlines(), state.merged.splitlines()))
    assert len(text.splitlines()) == len(state.merged.splitlines())
    assert [(old, new) for old, new in pairs if old != new] == changed
    (tmp_path / ".pre-commit-config.yaml").write_text(state.merged)
    assert config_state(str(tmp_path)).merged is None  # and a second run changes nothing


def test_a_pin_newer_than_the_installed_version_is_kept(tmp_path: Path) -> None:
    text = (
        f"default_install_hook_types: [{', '.join(HOOK_TYPES)}]\nrepos:\n- repo: local\n  hooks:\n"
        + "".join(
            f"  - id: {h['id']}\n    name: n\n    entry: {h['entry']}\n    language: python\n"
            "    additional_dependencies: [git-credential-sagemaker==999.0]\n"
            for h in LOCAL_HOOKS
        )
    )
    (tmp_path / ".pre-commit-config.yaml").write_text(text)
    assert config_state(str(tmp_path)).merged is None  # a colleague upgraded: not undone


def test_a_flow_style_hook_is_still_migrated(tmp_path: Path) -> None:
    text = (
        "repos:\n- repo: local\n  hooks:\n"
        f"  - {{id: notebooks-to-py, name: n, entry: {OURS}, language: system}}  # old\n"
    )
    (tmp_path / ".pre-commit-config.yaml").write_text(text)
    state = config_state(str(tmp_path))
    assert state.merged is not None and "# old" in state.merged  # the full dump keeps comments
    data = YAML(typ="safe").load(state.merged)
    assert data["repos"][0]["hooks"][0] == {
        "id": "notebooks-to-py",
        "name": "n",
        "entry": OURS,
        "language": "python",
        "language_version": "python3",
        "additional_dependencies": [PIN],
    }
    assert data["repos"][1] == {"repo": "local", "hooks": [LOCAL_HOOKS[1]]}
    assert data["default_install_hook_types"] == list(HOOK_TYPES)


def test_a_colleague_builds_the_notebooks_of_a_fresh_clone_with_pre_commit_alone(
    tmp_path: Path, origin: Path, colleague_venv: Path, wheels: Path
) -> None:
    colleague = Colleague(tmp_path, colleague_venv, wheels)
    clone = tmp_path / "clone"
    assert colleague.run("git", "clone", "-q", str(origin), str(clone), cwd=tmp_path)[0] == 0
    assert colleague.run("pre-commit", "install", cwd=clone)[0] == 0
    assert not (clone / "analysis.ipynb").exists()  # the clone ran no hook of pre-commit's

    code, said = colleague.run(
        "pre-commit", "run", "--hook-stage", "manual", "py-to-notebooks", cwd=clone
    )

    assert code == 0, said
    assert code_of(clone / "analysis.ipynb") == ["x = 2"]


def test_doctor_names_notebooks_out_of_date_and_the_command_that_builds_them(
    tmp_path: Path, origin: Path
) -> None:
    from git_credential_sagemaker.provision.repo import repo_problems

    with User(tmp_path) as user:
        clone = tmp_path / "clone"
        assert user.git("clone", "-q", str(origin), str(clone)).returncode == 0
        problems = [p for p in repo_problems(clone) if "out of date" in p[0]]
        assert problems == [
            (
                "1 notebook(s) missing or out of date with their .py (analysis.ipynb), so they "
                "show code that is not what is committed",
                f"git-credential-sagemaker notebooks --repo {clone}",
            )
        ]
        done = user.run([APP, "notebooks"], cwd=clone)
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode() == "analysis.ipynb: built from analysis.py\n"
        assert code_of(clone / "analysis.ipynb") == ["x = 2"]
        assert not [p for p in repo_problems(clone) if "out of date" in p[0]]

        save_notebook(clone / "analysis.ipynb", "x = 'stale'")  # as a merge left it
        assert [p for p in repo_problems(clone) if "out of date" in p[0]]
        again = user.run([APP, "notebooks", "--repo", str(clone), "--overwrite"], cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert code_of(clone / "analysis.ipynb") == ["x = 2"]
