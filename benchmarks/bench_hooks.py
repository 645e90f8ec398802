"""Benchmark the notebooks-to-py hook against jupytext's own commands, measured in the same run.

It generates a git repo of 200 gitignored notebooks (20 cells each, with outputs), then times
whole processes, as pre-commit would start them:

* the hook when nothing changed, when 1 notebook changed, and when all 200 changed;
* `python -c pass` (the floor for any Python hook);
* jupytext's hook command, `jupytext --pre-commit-mode --sync` on all notebooks, nothing changed;
* one `jupytext --to py:percent` process over all notebooks;
* one `jupytext --to py:percent` process per notebook (on a sample, reported per notebook).

Each figure is the median of --reps runs; edits to notebooks happen outside the timed part.
Every process runs with the script's own git configuration (GIT_CONFIG_GLOBAL, with an
identity; GIT_CONFIG_NOSYSTEM=1), so it runs on a fresh machine and the user's settings never
change the figures.
Usage: python benchmarks/bench_hooks.py [--reps 5] [--notebooks 200] [--cells 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

BIN = Path(sys.executable).parent
HOOK = str(BIN / "git-credential-sagemaker-notebooks-to-py")
JUPYTEXT = str(BIN / "jupytext")


def make_notebook(index: int, cells: int, variant: int = 0) -> nbformat.NotebookNode:
    content = []
    for i in range(cells):
        if i % 4 == 0:
            content.append(new_markdown_cell(f"## Step {i}\nNotebook {index}, explained."))
            continue
        source = f"values_{i} = [n * {i} for n in range(10)]\nsum(values_{i})"
        if i == 1:
            source += f"  # variant {variant}"
        outputs = []
        if i % 2 == 1:
            outputs = [
                new_output("execute_result", data={"text/plain": str(45 * i)}, execution_count=i),
                new_output("stream", name="stdout", text=f"step {i} done\n" * 3),
            ]
        content.append(new_code_cell(source, execution_count=i, outputs=outputs))
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7"},
    }
    return new_notebook(cells=content, metadata=metadata)


GITCONFIG = "[user]\n\tname = Benchmark\n\temail = benchmark@example.com\n"


def isolated_env(root: Path) -> dict[str, str]:
    """The environment for every process: a git configuration of our own, with an identity."""
    config = root / "gitconfig"
    config.write_text(GITCONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return {**env, "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def notebook_paths(repo: Path, count: int) -> list[Path]:
    return [repo / "notebooks" / f"analysis_{i:03d}.ipynb" for i in range(count)]


def write_notebooks(repo: Path, count: int, cells: int, variant: int, which: Sequence[int]) -> None:
    paths = notebook_paths(repo, count)
    for i in which:
        nbformat.write(make_notebook(i, cells, variant), str(paths[i]))


def make_repo(root: Path, env: dict[str, str], count: int, cells: int) -> Path:
    repo = root / "repo"
    (repo / "notebooks").mkdir(parents=True)
    git(repo, env, "init", "-q")
    (repo / ".gitignore").write_text("*.ipynb\n")
    # jupytext's --sync needs a pairing; the hook reads the same configuration.
    (repo / "jupytext.toml").write_text('formats = "ipynb,py:percent"\n')
    write_notebooks(repo, count, cells, 0, range(count))
    return repo


def timed(args: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start, proc.returncode


def median_of(
    reps: int,
    prepare: Callable[[int], None],
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str],
) -> float:
    times = []
    for rep in range(reps):
        prepare(rep)
        elapsed, _ = timed(args, cwd, env)
        times.append(elapsed)
    return statistics.median(times)


def imports_jupytext(repo: Path, env: dict[str, str]) -> bool:
    code = "from git_credential_sagemaker.hooks.notebooks_to_py import main; exit(main())"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return any(line.split("|")[-1].strip() == "jupytext" for line in proc.stderr.splitlines())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--notebooks", type=int, default=200)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--sample", type=int, default=10, help="notebooks for the per-file run")
    args = parser.parse_args(argv)
    n, reps = args.notebooks, args.reps
    nothing = lambda rep: None  # noqa: E731

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = isolated_env(root)
        repo = make_repo(root, env, n, args.cells)
        baseline = root / "baseline"
        shutil.copytree(repo, baseline)
        nbs = [str(p.relative_to(baseline)) for p in notebook_paths(baseline, n)]

        # The hook: first run converts everything, then the scripts are committed.
        timed([HOOK], repo, env)
        git(repo, env, "add", "-A")
        git(repo, env, "commit", "-q", "-m", "scripts")
        if timed([HOOK], repo, env)[1] != 0:
            raise SystemExit("the hook should pass on a committed, unchanged repo")

        counter = iter(range(1, 10**6))
        results: dict[str, float] = {}
        results["python -c pass"] = median_of(
            reps * 3, nothing, [sys.executable, "-c", "pass"], repo, env
        )
        results["hook, nothing changed"] = median_of(reps * 3, nothing, [HOOK], repo, env)
        jupytext_imported = imports_jupytext(repo, env)
        results["hook, 1 notebook changed"] = median_of(
            reps,
            lambda rep: write_notebooks(repo, n, args.cells, next(counter), [rep % n]),
            [HOOK],
            repo,
            env,
        )
        results[f"hook, all {n} changed"] = median_of(
            reps,
            lambda rep: write_notebooks(repo, n, args.cells, next(counter), range(n)),
            [HOOK],
            repo,
            env,
        )

        # Baselines, on their own copy of the same notebooks.
        timed([JUPYTEXT, "--sync", *nbs], baseline, env)  # pair once, untimed
        git(baseline, env, "add", "-A")
        git(baseline, env, "commit", "-q", "-m", "paired")
        results["jupytext --pre-commit-mode --sync, nothing changed"] = median_of(
            reps, nothing, [JUPYTEXT, "--pre-commit-mode", "--sync", *nbs], baseline, env
        )
        results["one batch jupytext --to py:percent"] = median_of(
            reps, nothing, [JUPYTEXT, "--to", "py:percent", *nbs], baseline, env
        )
        per_file = []
        for nb in nbs[: args.sample]:
            per_file.append(timed([JUPYTEXT, "--to", "py:percent", nb], baseline, env)[0])
        results["jupytext process per file, per notebook"] = statistics.median(per_file)

    floor = results["python -c pass"]
    batch = results["one batch jupytext --to py:percent"]
    per_nb = results["jupytext process per file, per notebook"]
    print(f"{n} notebooks x {args.cells} cells, {os.cpu_count()} cores, median of {reps} runs")
    print("(nothing-changed and python -c pass: median of", reps * 3, "runs)\n")
    print("| Measurement | Median | Ratio |")
    print("|---|---|---|")
    for name, seconds in results.items():
        if name.startswith("hook, all"):
            ratio = f"{seconds / batch:.2f}x one batch jupytext"
        elif name.startswith("hook, nothing"):
            ratio = f"+{seconds - floor:.3f} s over python -c pass"
        elif name.startswith("hook, 1"):
            ratio = f"{seconds / per_nb:.2f}x one jupytext process"
        elif name.startswith("jupytext process per file"):
            ratio = f"x {n} = {per_nb * n:.1f} s for all"
        else:
            ratio = ""
        print(f"| {name} | {seconds:.3f} s | {ratio} |")
    print(f"\njupytext imported when nothing changed: {'yes' if jupytext_imported else 'no'}")
    ok_fast = results["hook, nothing changed"] - floor <= 0.1 and not jupytext_imported
    ok_batch = results[f"hook, all {n} changed"] <= 1.5 * batch
    print(f"target nothing changed (<= +0.1 s, no jupytext): {'met' if ok_fast else 'MISSED'}")
    print(f"target all changed (<= 1.5x one batch): {'met' if ok_batch else 'MISSED'}")
    return 0 if ok_fast and ok_batch else 1


if __name__ == "__main__":
    raise SystemExit(main())
