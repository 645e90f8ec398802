"""A repository's content is data: what a pulled commit holds is never run, followed out of the
tree, printed raw, read as pathspec magic, or expanded without bound.

One shared origin stands for a repository that `setup` prepared; each hostile commit is a branch
of it, made by someone with push access (or the author of a tutorial one clones). Each test
takes a fresh clone, set up with `setup` as a SageMaker user would, and then pulls, checks out,
commits or runs `setup`/`doctor` there, with real git, real pre-commit and the hooks' own
environment, built once for the run from the local index.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from localindex import pip_env, wheel_dir
from nbformat.v4 import new_code_cell, new_notebook
from support import BIN, User

APP = str(BIN / "git-credential-sagemaker")
MAIN_PY = """\
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
# Runs only if something executes the file: jupytext treats .jupytext.py as Python config.
PYTHON_CONFIG = (
    "import pathlib\n"
    "pathlib.Path(__file__).with_name('jupytext-py-ran').write_text('ran')\n"
    "c.formats = 'ipynb,py:percent'\n"
)
MARKER = "jupytext-py-ran"
SECRET = "AKIAEXAMPLESECRETKEY"
CONTROL = "\x1b[2K\rlesson"  # erases the line and returns to its start
MAGIC = ":(glob)lesson"


def notebook_json(source: str) -> str:
    notebook = new_notebook(cells=[new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nbformat.writes(notebook) + "\n"


def anchors(levels: int) -> list[str]:
    """YAML lines whose last anchor, a{levels}, stands for 10**levels scalars."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return lines


def alias_bomb(levels: int) -> str:
    """A .pre-commit-config.yaml with a hook whose entry is 10**levels scalars."""
    lines = anchors(levels)
    lines += [
        "repos:",
        "- repo: local",
        "  hooks:",
        "  - id: lol",
        "    name: lol",
        f"    entry: *a{levels}",
        "    language: system",
    ]
    return "\n".join(lines) + "\n"


class Workshop:
    """The shared origin, the outside of every clone (an AWS credentials file), and a user."""

    def __init__(self, root: Path, user: User) -> None:
        self.root = root
        self.user = user
        self.origin = root / "origin.git"
        self.outside = root / "dot-aws" / "credentials"
        self.outside.parent.mkdir()
        self.outside.write_text(f"[default]\naws_access_key_id = {SECRET}\n")
        self.git(root, "init", "-q", "--bare", str(self.origin))
        author = root / "author"
        self.git(root, "init", "-q", "-b", "main", str(author))
        self.setup(author)
        (author / "analysis.py").write_text(MAIN_PY.format("x = 1"))
        self.git(author, "add", "-A")
        self.git(author, "commit", "-q", "--no-verify", "-m", "Set up the analysis")
        self.git(author, "remote", "add", "origin", str(self.origin))
        self.git(author, "push", "-q", "origin", "main")
        self.author = author
        # The hooks' environment, built once here, so that no test's bound includes it.
        code, said = self.run([str(BIN / "pre-commit"), "install-hooks"], author, timeout=600)
        assert code == 0, said

    def run(self, args: list[str], cwd: Path, timeout: float = 300) -> tuple[int, str]:
        done = self.user.run(args, cwd=cwd, timeout=timeout)
        return done.returncode, (done.stdout + done.stderr).decode(errors="surrogateescape")

    def git(self, cwd: Path, *args: str) -> str:
        code, said = self.run(["git", *args], cwd)
        assert code == 0, (args, said)
        return said

    def setup(self, repo: Path, *args: str) -> tuple[int, str]:
        return self.run([APP, "setup", "--repo", str(repo), *args], repo)

    def branch(
        self, name: str, files: dict[str, str], links: dict[str, str], drop: list[str]
    ) -> None:
        """Push a branch off main: files written, symlinks made, paths removed."""
        self.git(self.author, "checkout", "-q", "-b", name, "main")
        for rel in drop:
            self.git(self.author, "rm", "-q", "--", rel)
        for rel, text in files.items():
            (self.author / rel).write_text(text)
        for rel, target in links.items():
            (self.author / rel).symlink_to(target)
        added = [*files, *links]
        self.git(self.author, "--literal-pathspecs", "add", "-f", "--", *added)
        self.git(self.author, "commit", "-q", "--no-verify", "-m", f"Add {name}")
        self.git(self.author, "push", "-q", "origin", name)
        self.git(self.author, "checkout", "-q", "main")

    def clone(self, dest: Path, branch: str = "main") -> Path:
        self.git(dest.parent, "clone", "-q", "-b", branch, str(self.origin), str(dest))
        return dest

    def set_up_clone(self, dest: Path) -> Path:
        """A clone of main with the hooks installed by setup, as the victim works in it."""
        clone = self.clone(dest)
        code, said = self.setup(clone)
        assert code == 0, said
        return clone


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workshop]:
    root = tmp_path_factory.mktemp("workshop")
    with User(root) as user:
        user.env.update(pip_env(wheel_dir(tmp_path_factory)))
        user.env["PRE_COMMIT_HOME"] = str(tmp_path_factory.getbasetemp() / "pre-commit-home")
        shop = Workshop(root, user)
        lesson = {"lesson2.py": MAIN_PY.format("y = 2")}
        shop.branch(
            "python-config", {**lesson, ".jupytext.py": PYTHON_CONFIG}, {}, ["jupytext.toml"]
        )
        shop.branch("linked-config", lesson, {"jupytext.yml": str(shop.outside)}, ["jupytext.toml"])
        shop.branch("control-names", {f"{CONTROL}.ipynb": notebook_json("z = 3")}, {}, [])
        shop.branch("magic-names", {f"{MAGIC}.ipynb": notebook_json("z = 3")}, {}, [])
        shop.branch(
            "linked-gitignore", {"rules": "*.ipynb\n"}, {".gitignore": "rules"}, [".gitignore"]
        )
        shop.branch("alias-bomb", {".pre-commit-config.yaml": alias_bomb(8)}, {}, [])
        bomb = "\n".join([*anchors(8), "formats: *a8"]) + "\n"
        shop.branch("jupytext-bomb", {**lesson, "jupytext.yml": bomb}, {}, ["jupytext.toml"])
        yield shop


def no_hooks(repo: Path) -> list[str]:
    """git options that run none of the clone's hooks (to pull without them)."""
    empty = repo.parent / "no-hooks"
    empty.mkdir(exist_ok=True)
    return ["-c", f"core.hooksPath={empty}"]


def commit_a_notebook(shop: Workshop, clone: Path) -> tuple[int, str]:
    """Save a new notebook and commit a README change: the pre-commit hook runs."""
    (clone / "new.ipynb").write_text(notebook_json("w = 4"))
    (clone / "README.md").write_text("notes\n")
    shop.git(clone, "add", "README.md")
    return shop.run(["git", "commit", "-q", "-m", "Notes"], clone)


def lines_with(said: str, text: str) -> list[str]:
    return [line for line in said.splitlines() if text in line]


# --- a .jupytext.py is never run ------------------------------------------------------------


@pytest.mark.parametrize("how", ["pull", "checkout", "commit", "setup --dry-run", "setup"])
def test_a_pulled_jupytext_py_is_never_run(workshop: Workshop, tmp_path: Path, how: str) -> None:
    if how.startswith("setup"):
        clone = workshop.clone(tmp_path / "clone", "python-config")
        code, said = workshop.setup(clone, *how.split()[1:])
        assert not (clone / MARKER).exists()
        assert code == 1
        assert said.splitlines() == [
            "git-credential-sagemaker: .jupytext.py is Python, and nothing from a repository is "
            "ever run, so it is not read; put its settings in jupytext.toml and delete it, then "
            "rerun git-credential-sagemaker setup"
        ]
    else:
        clone = workshop.set_up_clone(tmp_path / "clone")
        if how == "pull":
            code, said = workshop.run(["git", "pull", "-q", "origin", "python-config"], clone)
        elif how == "checkout":
            code, said = workshop.run(["git", "checkout", "-q", "python-config"], clone)
        else:
            pull = ["git", *no_hooks(clone), "pull", "-q", "origin", "python-config"]
            workshop.git(clone, *pull[1:])
            code, said = commit_a_notebook(workshop, clone)
        assert not (clone / MARKER).exists()
        if how == "commit":
            assert code == 1  # the commit stops: the configuration is refused
        hook = "notebooks-to-py" if how == "commit" else "py-to-notebooks"
        assert lines_with(said, ".jupytext.py") == [
            f"{hook}: error: .jupytext.py is Python, and nothing from a repository is ever run, "
            "so it is not read; put its settings in jupytext.toml and delete it"
        ], said
    assert "Traceback" not in said


# --- a configuration linked out of the tree is never read -----------------------------------


@pytest.mark.parametrize("how", ["pull", "commit", "setup"])
def test_a_jupytext_config_linked_out_of_the_tree_is_never_read(
    workshop: Workshop, tmp_path: Path, how: str
) -> None:
    if how == "setup":
        clone = workshop.clone(tmp_path / "clone", "linked-config")
        code, said = workshop.setup(clone)
    else:
        clone = workshop.set_up_clone(tmp_path / "clone")
        if how == "pull":
            code, said = workshop.run(["git", "pull", "-q", "origin", "linked-config"], clone)
        else:
            pull = ["git", *no_hooks(clone), "pull", "-q", "origin", "linked-config"]
            workshop.git(clone, *pull[1:])
            code, said = commit_a_notebook(workshop, clone)
    assert SECRET not in said and "aws_access_key_id" not in said
    assert code == 1 or how == "pull"
    assert len(lines_with(said, "jupytext.yml")) == 1, said
    assert (
        f"jupytext.yml is a symbolic link leading outside the repository (to {workshop.outside})"
        in said
    )
    assert "Traceback" not in said


# --- names are printed escaped ----------------------------------------------------------------


def test_a_pulled_name_with_control_characters_cannot_redraw_the_hooks_lines(
    workshop: Workshop, tmp_path: Path
) -> None:
    clone = workshop.set_up_clone(tmp_path / "clone")
    workshop.git(clone, "pull", "-q", "origin", "control-names")

    code, said = workshop.run(["git", "commit", "-q", "--allow-empty", "-m", "Try"], clone)

    assert "\x1b" not in said and "\r" not in said
    assert code == 1
    shown = "%1B[2K%0Dlesson"
    assert f"  {shown}.py" in said.splitlines()  # the script the hook wrote, not staged
    assert f"  {shown}.ipynb" in said.splitlines()  # the notebook the commit should not hold
    for line in lines_with(said, "run: "):  # bash reads the $'...' names as the real files
        done = subprocess.run(
            ["bash", "-c", line.split("run: ", 1)[1]], cwd=clone, capture_output=True, check=False
        )
        assert done.returncode == 0, (line, done.stderr)
    staged = workshop.git(clone, "diff", "--cached", "--name-only", "-z").split("\0")
    assert f"{CONTROL}.py" in staged


def test_setup_and_doctor_print_names_from_the_tree_escaped(
    workshop: Workshop, tmp_path: Path
) -> None:
    clone = workshop.clone(tmp_path / "clone", "control-names")

    setup_code, setup_said = workshop.setup(clone)
    doctor_code, doctor_said = workshop.run([APP, "doctor"], clone)

    for said in (setup_said, doctor_said):
        assert "\x1b" not in said and "\r" not in said
    assert setup_code == 0, setup_said
    assert "note: nothing done yet for the 1 tracked notebook(s) (%1B[2K%0Dlesson.ipynb)" in (
        setup_said
    )
    assert doctor_code == 1
    assert "1 notebook(s) tracked by git (%1B[2K%0Dlesson.ipynb)" in doctor_said


# --- names are paths, never pathspec magic -----------------------------------------------------


def test_a_pulled_notebook_named_like_pathspec_magic_is_a_notebook_to_the_hook(
    workshop: Workshop, tmp_path: Path
) -> None:
    clone = workshop.set_up_clone(tmp_path / "clone")
    workshop.git(clone, "pull", "-q", "origin", "magic-names")

    code, said = workshop.run(["git", "commit", "-q", "--allow-empty", "-m", "Try"], clone)

    assert "Traceback" not in said and "GitError" not in said
    assert code == 1
    assert f"  {MAGIC}.ipynb" in said.splitlines()
    for line in lines_with(said, "run: "):
        done = subprocess.run(
            ["sh", "-c", line.split("run: ", 1)[1]], cwd=clone, capture_output=True, check=False
        )
        assert done.returncode == 0, (line, done.stderr)
    code, said = workshop.run(["git", "commit", "-q", "-m", "Keep the script only"], clone)
    assert code == 0, said
    tracked = workshop.git(clone, "ls-files", "-z").split("\0")
    assert f"{MAGIC}.py" in tracked and f"{MAGIC}.ipynb" not in tracked


def test_setup_migrates_a_notebook_named_like_pathspec_magic(
    workshop: Workshop, tmp_path: Path
) -> None:
    clone = workshop.clone(tmp_path / "clone", "magic-names")

    code, said = workshop.setup(clone, "--migrate")

    assert "Traceback" not in said
    assert code == 0, said
    assert f"changed: {MAGIC}.ipynb: converted to {MAGIC}.py (staged); " in said
    staged = workshop.git(clone, "diff", "--cached", "--name-status", "-z").split("\0")
    assert staged[staged.index(f"{MAGIC}.py") - 1] == "A"
    assert staged[staged.index(f"{MAGIC}.ipynb") - 1] == "D"


def test_a_gitignore_that_is_a_symlink_is_one_line_from_setup_and_fixed_by_doctors_fix(
    workshop: Workshop, tmp_path: Path
) -> None:
    clone = workshop.clone(tmp_path / "clone", "linked-gitignore")
    before = sorted(os.listdir(clone))

    code, said = workshop.setup(clone)

    assert "Traceback" not in said
    assert code == 1
    assert said.splitlines() == [
        "git-credential-sagemaker: .gitignore is a symbolic link (to rules), which setup never "
        "writes through and git does not read; make it a regular file, then rerun "
        "git-credential-sagemaker setup"
    ]
    assert sorted(os.listdir(clone)) == before  # refused before anything changed

    code, said = workshop.run([APP, "doctor"], clone)
    lines = said.splitlines()
    problem = ".gitignore is a symbolic link, which git does not read, so notebooks are not ignored"
    fix = lines[lines.index(problem) + 1].removeprefix("    fix: ")
    assert workshop.run(["sh", "-c", fix], clone)[0] == 0
    assert not (clone / ".gitignore").is_symlink()
    assert (clone / "rules").read_text() == "*.ipynb\n"  # the file it led to is left alone


# --- an alias bomb is refused at once -----------------------------------------------------------


@pytest.mark.parametrize("command", ["setup", "doctor"])
def test_an_alias_bomb_in_the_pre_commit_config_is_refused_at_once(
    workshop: Workshop, tmp_path: Path, command: str
) -> None:
    clone = workshop.clone(tmp_path / "clone", "alias-bomb")
    args = [APP, "setup", "--repo", str(clone)] if command == "setup" else [APP, "doctor"]

    code, said = workshop.run(args, clone, timeout=20)  # 10**8 nodes: hours, if expanded

    assert code == 1
    refusal = ".pre-commit-config.yaml has aliases that repeat more than 10000 nodes"
    assert len(lines_with(said, refusal)) == 1, said
    assert "Traceback" not in said
    if command == "setup":
        assert said.splitlines()[0].startswith(f"git-credential-sagemaker: {refusal}")
        # Aliases a person writes, a merge key and a repeated list, are not refused.
        (clone / ".pre-commit-config.yaml").write_text(
            "repos:\n- repo: local\n  hooks:\n"
            "  - &check\n    id: one\n    name: one\n    entry: 'true'\n"
            "    language: system\n    files: &scripts ^(a|b)[.]py$\n"
            "  - <<: *check\n    id: two\n    name: two\n    exclude: *scripts\n"
        )
        code, said = workshop.run(args, clone, timeout=120)
        assert code == 0, said


def test_an_alias_bomb_in_a_pulled_jupytext_config_is_refused_at_once(
    workshop: Workshop, tmp_path: Path
) -> None:
    clone = workshop.set_up_clone(tmp_path / "clone")

    code, said = workshop.run(["git", "pull", "-q", "origin", "jupytext-bomb"], clone, timeout=30)

    assert lines_with(said, "jupytext.yml") == [
        "py-to-notebooks: error: jupytext.yml has aliases that repeat more than 10000 nodes; "
        "write the repeated parts out"
    ], said
    assert code == 0  # the pull itself went through; the hook said what it refused
