"""Helpers for the notebook hooks' tests: run real git and shell commands, build real notebooks.

Named uniquely (not `helpers.py`) because the test folders have no `__init__.py`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import support
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

WORKTREE = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOOK_TYPES = ["pre-commit", "post-checkout", "post-merge", "post-rewrite", "post-commit"]


def run(
    args: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """support.run, with text output (pre-commit may build an environment: a longer bound)."""
    done = support.run(args, cwd=cwd, check=check, env=env, timeout=600)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["git", *args], repo, check=check)


def run_printed(repo: Path, line: str) -> None:
    """Run a fix command exactly as the hook printed it, through a POSIX shell."""
    run(["sh", "-c", line], repo)


def printed_commands(output: str) -> list[str]:
    """The commands a hook told the user to run (`run: ...` and `and ignore notebooks: ...`)."""
    commands = []
    for line in output.splitlines():
        for marker in ("run: ", "and ignore notebooks: "):
            if marker in line:
                commands.append(line.split(marker, 1)[1])
    return commands


def tree(repo: Path, rev: str = "HEAD") -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", "-z", rev).stdout.split("\0")[:-1]


def make_notebook(
    sources: list[str],
    outputs: bool = True,
    kernel_display: str | None = "Python 3 (ipykernel)",
    jupytext_version: str | None = None,
    execution_offset: int = 0,
) -> nbformat.NotebookNode:
    """A notebook with a title cell, then one code cell per source, each with an output."""
    cells: list[Any] = [new_markdown_cell("# Analysis\nA notebook saved on SageMaker.")]
    for i, source in enumerate(sources):
        count = i + 1 + execution_offset
        cell = new_code_cell(source, execution_count=count if outputs else None)
        if outputs:
            cell.outputs = [new_output("stream", name="stdout", text=f"output {count}\n")]
            cell.metadata["execution"] = {"iopub.execute_input": f"2024-01-0{i % 9 + 1}"}
        cells.append(cell)
    metadata: dict[str, Any] = {"language_info": {"name": "python", "version": "3.11.7"}}
    if kernel_display is not None:
        metadata["kernelspec"] = {
            "name": "python3",
            "display_name": kernel_display,
            "language": "python",
        }
    if jupytext_version is not None:
        metadata["jupytext"] = {
            "text_representation": {
                "extension": ".py",
                "format_name": "percent",
                "format_version": "1.3",
                "jupytext_version": jupytext_version,
            }
        }
    return new_notebook(cells=cells, metadata=metadata)


def write_notebook(path: Path, notebook: nbformat.NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def code_sources(notebook: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def init_repo(path: Path, gitignore: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    if gitignore:
        (path / ".gitignore").write_text("*.ipynb\n")
    (path / "README.md").write_text("analysis\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Start the analysis repository")
    return path


def write_config(path: Path, hooks_repo: tuple[Path, str]) -> None:
    repo_path, rev = hooks_repo
    (path / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {repo_path}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: notebooks-to-py\n"
        "      - id: py-to-notebooks\n"
    )
    git(path, "add", ".pre-commit-config.yaml")
    git(path, "commit", "-q", "-m", "Use the notebook hooks")


def install_hooks(path: Path) -> None:
    args = [str(BIN / "pre-commit"), "install"]
    for hook_type in HOOK_TYPES:
        args += ["--hook-type", hook_type]
    run(args, path)


def rebuilt(*notebooks: str) -> str:
    """The one line py-to-notebooks prints under pre-commit's "Passed" for what it wrote."""
    names = ", ".join(notebooks)
    return f"py-to-notebooks: {names} rebuilt from the .py (outputs of unchanged cells kept)\n"
