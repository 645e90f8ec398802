"""repo_setup: one repository set up for the notebook hooks, with real git and real pre-commit.

setup_repo runs in this process, so each test gives the process the tests' one isolated
environment (support.isolated_env: its own HOME and git config, no system config), and
pre-commit's cache is a temp folder too.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import jupytext
import nbformat
import pytest
from localindex import pip_env, wheel_dir
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from ruamel.yaml import YAML
from support import git, isolated_env, output, use_env

from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.provision.precommit_config import (
    LOCAL_COMMENT,
    LOCAL_HOOKS,
    TYPES_COMMENT,
    VERSION,
)
from git_credential_sagemaker.provision.repo import (
    HOOK_TYPES,
    Change,
    repo_problems,
    setup_repo,
)

WORKTREE = Path(__file__).resolve().parents[1]
OUR_IDS = ["notebooks-to-py", "py-to-notebooks"]


@pytest.fixture(autouse=True)
def isolated(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setup_repo runs in this process: it and the git it starts see only the isolated env.

    The hooks' environment comes from a local index (no network), into one pre-commit cache
    for the run, so it is built once.
    """
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    env = isolated_env(home)
    env.update(pip_env(wheel_dir(tmp_path_factory)))
    env["PRE_COMMIT_HOME"] = str(tmp_path_factory.getbasetemp() / "pre-commit-home")
    use_env(monkeypatch, env)


def make_repo(path: Path, files: Mapping[str, str | bytes] | None = None) -> Path:
    """A repo with one commit holding README.md and the given files."""
    path.mkdir(parents=True)
    git("init", "-q", cwd=path, check=True)
    for rel, content in {"README.md": "analysis\n", **(files or {})}.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        (path / rel).write_bytes(data)
    git("add", "-A", cwd=path, check=True)
    git("commit", "-q", "-m", "Start", cwd=path, check=True)
    return path


def notebook_bytes(*sources: str) -> bytes:
    """A saved notebook: a title cell, then code cells with outputs and execution counts."""
    cells = [new_markdown_cell("# Analysis")]
    for i, source in enumerate(sources, 1):
        cell = new_code_cell(source, execution_count=i)
        cell.outputs = [new_output("stream", name="stdout", text=f"output {i}\n")]
        cells.append(cell)
    kernel = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    notebook = new_notebook(cells=cells, metadata={"kernelspec": kernel})
    return (nbformat.writes(notebook) + "\n").encode()


def code_of(text: str, fmt: str) -> list[str]:
    notebook = jupytext.reads(text, fmt=fmt)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under path, .git included, by relative path."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def whats(changes: list[Change]) -> list[str]:
    return [change.what for change in changes]


def installed_hooks(repo: Path) -> list[str]:
    return [t for t in HOOK_TYPES if (repo / ".git" / "hooks" / t).exists()]


NOTEBOOKS = {
    "a.ipynb": notebook_bytes("import pandas as pd", "df = pd.DataFrame()"),
    "sub/b.ipynb": notebook_bytes("x = 1", "print(x)"),
    "c d.ipynb": notebook_bytes("y = 2"),
}


def test_setup_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = whats(setup_repo(repo))
    assert first[:3] == [
        ".gitignore: created with *.ipynb and .ipynb_checkpoints/ (staged)",
        "jupytext.toml: created, pairing ipynb with py:percent (staged)",
        ".pre-commit-config.yaml: created with the notebooks-to-py and py-to-notebooks hooks "
        "(repo: local, staged)",
    ]
    assert first[3] == f"pre-commit hooks installed for {', '.join(HOOK_TYPES)}"
    assert installed_hooks(repo) == list(HOOK_TYPES)
    assert (repo / ".gitignore").read_text() == "*.ipynb\n.ipynb_checkpoints/\n"
    assert 'formats = "ipynb,py:percent"' in (repo / "jupytext.toml").read_text()
    assert output("git", "diff", "--cached", "--name-only", cwd=repo).split() == [
        ".gitignore",
        ".pre-commit-config.yaml",
        "jupytext.toml",
    ]
    before = snapshot(repo)
    assert setup_repo(repo) == []
    assert snapshot(repo) == before
    assert repo_problems(repo) == []


def test_a_reinstalled_post_checkout_hook_is_named_until_setup_guards_it_again(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    setup_repo(repo)
    script = repo / ".git" / "hooks" / "post-checkout"
    assert "git ls-files --unmerged" in script.read_text()  # setup guards a checkout of paths
    output(sys.executable, "-m", "pre_commit", "install", "-f", "-t", "post-checkout", cwd=repo)
    assert "git ls-files --unmerged" not in script.read_text()

    problems = repo_problems(repo)

    assert [p for p, _ in problems] == [
        "the post-checkout git hook fails `git checkout --theirs PATH` while a conflict is "
        "open (pre-commit refuses to run with unmerged paths)"
    ]
    assert whats(setup_repo(repo)) == [
        "git hook post-checkout: `git checkout --theirs PATH` during a conflict no longer fails"
    ]
    assert repo_problems(repo) == []


def test_hook_table_matches_pre_commit_hooks_yaml() -> None:
    manifest = YAML(typ="safe").load((WORKTREE / ".pre-commit-hooks.yaml").read_text())
    keys = ("id", "name", "entry", "pass_filenames", "always_run", "stages", "verbose")
    assert [{k: h.get(k) for k in keys} for h in manifest] == [
        {k: h.get(k) for k in keys} for h in LOCAL_HOOKS
    ]
    assert all(h["language"] == "python" for h in manifest)
    assert all(h["language"] == "python" for h in LOCAL_HOOKS)
    pin = [f"git-credential-sagemaker=={VERSION}"]
    assert all(h["additional_dependencies"] == pin for h in LOCAL_HOOKS)


CONFIGS = {
    "two-space": (
        "# Hooks for this project; see https://pre-commit.com\n"
        "default_language_version:\n"
        "  python: python3.11\n"
        "repos:\n"
        "  # formatting first\n"
        "  - repo: https://github.com/psf/black\n"
        '    rev: "24.1.0"\n'
        "    hooks:\n"
        "      - id: black  # the formatter\n"
        "        args: ['--line-length=100']\n"
        "  - repo: local\n"
        "    hooks:\n"
        "      - id: lint\n"
        "        name: lint\n"
        "        entry: ./lint.sh\n"
        "        language: script\n"
        "      # - id: slow-check\n"
        "\n"
        "# the CI settings\n"
        "ci:\n"
        "  autofix_prs: false   # no bot commits\n"
    ),
    "pre-commit-sample": (
        "# See https://pre-commit.com for more information\n"
        "repos:\n"
        "-   repo: https://github.com/pre-commit/pre-commit-hooks\n"
        "    rev: v3.2.0\n"
        "    hooks:\n"
        "    -   id: trailing-whitespace\n"
        "    -   id: check-added-large-files\n"
        '        args: ["--maxkb=500"]\n'
        "# end of the hooks\n"
    ),
    "flow": "# flow style\nrepos: [{repo: meta, hooks: [{id: check-useless-excludes}]}]\n",
}


@pytest.mark.parametrize("style", list(CONFIGS))
def test_existing_config_keeps_its_hooks_and_comments(tmp_path: Path, style: str) -> None:
    original = CONFIGS[style]
    repo = make_repo(tmp_path / "repo", {".pre-commit-config.yaml": original})
    changes = whats(setup_repo(repo))
    assert (
        ".pre-commit-config.yaml: added the notebooks-to-py and py-to-notebooks hooks "
        "(repo: local, staged)" in changes
    )
    merged = (repo / ".pre-commit-config.yaml").read_text()

    def comments(text: str) -> list[str]:
        return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]

    ours = (LOCAL_COMMENT, TYPES_COMMENT)
    assert [c for c in comments(merged) if f"#{c}" not in ours] == comments(original)
    if style != "flow":  # block lists: every original line stays, only lines are added
        diff = difflib.ndiff(original.splitlines(), merged.splitlines())
        assert not [line for line in diff if line.startswith("- ")]
    old, new = (YAML(typ="safe").load(text) for text in (original, merged))
    assert new["repos"][:-1] == old["repos"]
    added = {"repos", "default_install_hook_types"}
    assert {k: v for k, v in new.items() if k not in added} == {
        k: v for k, v in old.items() if k != "repos"
    }
    assert new["default_install_hook_types"] == list(HOOK_TYPES)
    assert new["repos"][-1] == {"repo": "local", "hooks": list(LOCAL_HOOKS)}
    output(
        sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml", cwd=repo
    )
    assert setup_repo(repo) == []


def test_config_with_our_hooks_from_a_hooks_repo_keeps_them(tmp_path: Path) -> None:
    config = (
        "repos:\n- repo: https://github.com/example/git-credential-sagemaker\n  rev: v0.1.0\n"
        "  hooks:\n  - id: notebooks-to-py\n  - id: py-to-notebooks\n"
    )
    repo = make_repo(tmp_path / "repo", {".pre-commit-config.yaml": config})
    assert [c for c in whats(setup_repo(repo)) if ".pre-commit-config.yaml" in c] == [
        ".pre-commit-config.yaml: default_install_hook_types now lists pre-commit, "
        "post-checkout, post-merge, post-rewrite, post-commit, so a plain `pre-commit install` "
        "sets up every hook (staged)"
    ]
    types = f"default_install_hook_types: [{', '.join(HOOK_TYPES)}]"
    assert (repo / ".pre-commit-config.yaml").read_text() == f"{config}{TYPES_COMMENT}\n{types}\n"


def test_migrate_three_tracked_notebooks(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**NOTEBOOKS, "train.py": "print('train')\n"})
    changes = whats(setup_repo(repo, migrate=True))
    assert "a.ipynb: converted to a.py (staged); a.ipynb left the index, kept on disk" in changes

    pys = ["a.py", "c d.py", "sub/b.py"]
    assert [
        p
        for p in output("git", "ls-files", "-z", cwd=repo).split("\0")
        if p.endswith((".py", ".ipynb"))
    ] == [*pys, "train.py"]
    status = output(
        "git", "diff", "--cached", "--no-renames", "--name-status", "-z", cwd=repo
    ).split("\0")
    pairs = set(zip(status[0::2], status[1::2]))
    assert {("D", nb) for nb in NOTEBOOKS} | {("A", py) for py in pys} <= pairs
    assert {path for _, path in pairs} == {
        *NOTEBOOKS,
        *pys,
        ".gitignore",
        ".pre-commit-config.yaml",
        "jupytext.toml",
    }
    for nb, data in NOTEBOOKS.items():
        assert (repo / nb).read_bytes() == data
    assert code_of((repo / "a.py").read_text(), "py:percent") == [
        "import pandas as pd",
        "df = pd.DataFrame()",
    ]

    commit = git("commit", "-m", "Commit scripts, not notebooks", cwd=repo, check=True)
    said = (commit.stdout + commit.stderr).decode()  # git hands hook output to stderr
    assert re.search(r"notebooks to \.py scripts\.+Passed", said)
    tree = output("git", "ls-tree", "-r", "--name-only", "HEAD", cwd=repo).splitlines()
    assert not [p for p in tree if p.endswith(".ipynb")]
    assert set(pys) <= set(tree)
    assert output("git", "status", "--porcelain", cwd=repo) == ""
    assert setup_repo(repo, migrate=True) == []


def test_tracked_notebooks_without_migrate_are_only_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", NOTEBOOKS)
    changes = whats(setup_repo(repo))
    assert changes[-1].startswith("nothing done yet for the 3 tracked notebook(s)")
    assert "rerun with --migrate" in changes[-1]
    tracked = output("git", "ls-files", "-z", "--", "*.ipynb", cwd=repo).split("\0")[:-1]
    assert sorted(tracked) == sorted(NOTEBOOKS)
    assert not (repo / "a.py").exists()


def test_migrate_refuses_a_script_with_edits_of_its_own(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.ipynb": NOTEBOOKS["a.ipynb"], "a.py": "x = 1\n"})
    (repo / "a.py").write_text("x = 'not committed yet'\n")  # a committed a.py may be replaced
    before = snapshot(repo)
    with pytest.raises(SetupError, match=r"a\.py has edits of its own.*--overwrite a\.ipynb"):
        setup_repo(repo, migrate=True)
    assert snapshot(repo) == before  # checked before anything was written


def clone_of_migrated(tmp_path: Path) -> Path:
    """A fresh clone of a repo whose commits hold jupytext scripts and a plain module only."""
    origin = make_repo(tmp_path / "origin", {**NOTEBOOKS, "train.py": "print('train')\n"})
    setup_repo(origin, migrate=True)
    git("commit", "-q", "-m", "Scripts only", cwd=origin, check=True)
    git("clone", "-q", str(origin), "clone", cwd=tmp_path, check=True)
    return tmp_path / "clone"


def test_fresh_clone_builds_the_notebooks(tmp_path: Path) -> None:
    clone = clone_of_migrated(tmp_path)
    assert not list(clone.rglob("*.ipynb"))
    changes = whats(setup_repo(clone))
    assert changes == [
        f"pre-commit hooks installed for {', '.join(HOOK_TYPES)}",
        # Said before the first commit starts building it, off an instance:
        "the first commit builds the notebook hooks' environment, once (pip installs this "
        "package into pre-commit's cache, which can take half a minute); to build it now, run: "
        "pre-commit install-hooks",
        "a.ipynb: built from a.py",
        "c d.ipynb: built from c d.py",
        "sub/b.ipynb: built from sub/b.py",
    ]
    for nb, data in NOTEBOOKS.items():
        assert code_of((clone / nb).read_text(), "ipynb") == code_of(data.decode(), "ipynb")
    assert not (clone / "train.ipynb").exists()  # a plain module is no notebook
    assert output("git", "status", "--porcelain", cwd=clone) == ""
    assert setup_repo(clone) == []


SCENARIOS = ["new repo", "tracked notebooks", "fresh clone"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_dry_run_writes_nothing_and_says_what_the_run_does(tmp_path: Path, scenario: str) -> None:
    if scenario == "new repo":
        repo = make_repo(tmp_path / "repo")
    elif scenario == "tracked notebooks":
        files: dict[str, str | bytes] = {
            **NOTEBOOKS,
            ".pre-commit-config.yaml": CONFIGS["two-space"],
        }
        repo = make_repo(tmp_path / "repo", files)
    else:
        repo = clone_of_migrated(tmp_path)
    before = snapshot(repo)
    dry = setup_repo(repo, migrate=True, dry_run=True)
    assert snapshot(repo) == before
    assert installed_hooks(repo) == []
    assert setup_repo(repo, migrate=True) == dry != []


def test_repo_problems_names_each_fix(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo, check=True)
    (repo / "a.ipynb").write_bytes(NOTEBOOKS["a.ipynb"])
    git("add", "a.ipynb", cwd=repo, check=True)
    problems = repo_problems(repo)
    setup = f"git-credential-sagemaker setup --repo {repo}"
    cd = f"cd {repo} && "
    hooks = [(t, setup) for t in HOOK_TYPES]  # works with pre-commit on no PATH
    assert [(t, fix) for (t, _), (_, fix) in zip(hooks, problems)] == hooks
    assert all(
        f"the {t} git hook is not installed: " in p for t, (p, _) in zip(HOOK_TYPES, problems)
    )
    assert problems[len(HOOK_TYPES) :] == [
        ("there is no .pre-commit-config.yaml, so the notebook hooks never run", setup),
        (
            ".gitignore does not ignore *.ipynb and .ipynb_checkpoints/",
            f"{cd}printf '%s\\n' '*.ipynb' .ipynb_checkpoints/ >> .gitignore && git add .gitignore",
        ),
        ("1 notebook(s) tracked by git (a.ipynb)", f"{setup} --migrate"),
    ]
    for _, fix in problems:  # the shell fixes work as printed; setup's are tested above
        if fix.startswith("cd "):
            output("sh", "-c", fix, cwd=tmp_path)
    assert [fix for _, fix in repo_problems(repo)] == [setup] * (len(HOOK_TYPES) + 1) + [
        f"{setup} --migrate"
    ]
    setup_repo(repo, migrate=True)
    assert repo_problems(repo) == []


def test_config_lacking_one_hook_is_a_problem(tmp_path: Path) -> None:
    config = (
        "repos:\n- repo: local\n  hooks:\n  - id: notebooks-to-py\n"
        "    name: n\n    entry: git-credential-sagemaker-notebooks-to-py\n    language: system\n"
    )
    repo = make_repo(tmp_path / "repo", {".pre-commit-config.yaml": config})
    assert (
        ".pre-commit-config.yaml lacks the py-to-notebooks hook(s)",
        f"git-credential-sagemaker setup --repo {repo}",
    ) in repo_problems(repo)
    assert (
        ".pre-commit-config.yaml: added the py-to-notebooks hooks (repo: local, staged)"
        in whats(setup_repo(repo))
    )
    assert repo_problems(repo) == []


def test_gitignore_keeps_its_lines_and_adds_only_what_is_missing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {".gitignore": "build/\n*.ipynb"})
    assert ".gitignore: added .ipynb_checkpoints/ (staged)" in whats(setup_repo(repo))
    assert (repo / ".gitignore").read_text() == "build/\n*.ipynb\n.ipynb_checkpoints/\n"


def test_gitignore_covering_notebooks_otherwise_is_left_alone(tmp_path: Path) -> None:
    text = "__pycache__/\n**/*.ipynb\n.ipynb_checkpoints\n"
    repo = make_repo(tmp_path / "repo", {".gitignore": text})
    assert not [c for c in whats(setup_repo(repo)) if ".gitignore" in c]
    assert (repo / ".gitignore").read_text() == text


@pytest.mark.parametrize(
    "name, text",
    [
        ("pyproject.toml", '[tool.jupytext]\nformats = "ipynb,py:light"\n'),
        (".jupytext.yml", "formats: ipynb,py:percent\n"),
    ],
)
def test_an_existing_jupytext_config_is_kept(tmp_path: Path, name: str, text: str) -> None:
    repo = make_repo(tmp_path / "repo", {name: text})
    assert not [c for c in whats(setup_repo(repo)) if "jupytext.toml" in c]
    assert not (repo / "jupytext.toml").exists()


def test_core_hooks_path_is_refused_before_any_change(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git("config", "core.hooksPath", "my-hooks", cwd=repo, check=True)
    unset = "git config --local --unset-all core.hooksPath"
    before = snapshot(repo)
    with pytest.raises(SetupError, match=re.escape(unset)):
        setup_repo(repo)
    assert snapshot(repo) == before
    fixes = [fix for problem, fix in repo_problems(repo) if "git hook" in problem]
    assert fixes and all(f"{unset} && " in fix for fix in fixes)


def test_errors_are_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {".pre-commit-config.yaml": "repos: [\n"})
    with pytest.raises(SetupError) as info:
        setup_repo(repo)
    assert "\n" not in str(info.value) and "not valid YAML" in str(info.value)
    assert not (repo / "jupytext.toml").exists()
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with pytest.raises(SetupError, match="not inside a git work tree"):
        setup_repo(outside)


def test_migrate_refuses_to_drop_staged_notebook_edits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.ipynb": NOTEBOOKS["a.ipynb"]})
    (repo / "a.ipynb").write_bytes(notebook_bytes("staged = 1"))
    git("add", "a.ipynb", cwd=repo, check=True)
    (repo / "a.ipynb").write_bytes(notebook_bytes("in the file only = 2"))
    before = snapshot(repo)
    with pytest.raises(SetupError, match="staged content different from both"):
        setup_repo(repo, migrate=True)
    assert snapshot(repo) == before
