"""Whole-process wall time of the credential helper against baselines measured in the same run.

    python benchmarks/bench_helper.py [--runs N]

It times what git really runs, in two venvs made as a newcomer makes them: one by
`python3 -m venv` with the pip it ships (older than 25, whose console scripts import re),
one with the newest pip. In each, pip installs this checkout's wheel and its dependencies,
then the venv's own Python writes the launcher that setup names in git config
(provision/launcher: isolated, no site). Both launchers are timed, each against
`python -c pass` in its own venv (with site, as any Python program starts). Commands run
in turns, one of each per round in a shuffled order, so a busy machine slows them alike;
the table shows medians. A throwaway HOME, store and runtime dir, and a git server on
127.0.0.1 from tests/gitserver.py.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from gitserver import GitServer

ROOT = Path(__file__).resolve().parent.parent

REQUEST = b"protocol=https\nhost=github.com\n"
STORED = REQUEST + b"username=alice\npassword=ghp_benchmarktoken\n"
PASSPHRASE = "bench passphrase"


class Command(NamedTuple):
    name: str
    args: list[str]
    env: dict[str, str]
    stdin: bytes = b""


class Venv(NamedTuple):
    label: str  # "pip 23.2.1"
    python: str
    pip_script: str  # the console script pip wrote
    launcher: str  # the one setup writes


def build_wheel(root: Path) -> Path:
    """This checkout as a wheel, built from a copy (no __pycache__, nothing of the tree's)."""
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "git_credential_sagemaker", src / "git_credential_sagemaker", True, skip)
    shutil.copytree(ROOT / "hooks", src / "hooks", ignore=skip)
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "wheels"), str(src)], check=True)
    return next((root / "wheels").glob("*.whl"))


def install(root: Path, name: str, wheel: Path, newest_pip: bool) -> Venv:
    """A venv as `python3 -m venv` makes it, the wheel installed by that venv's own pip."""
    venv = root / name
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    if newest_pip:
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", str(wheel)], check=True)
    version = subprocess.run(
        [python, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    launcher = str(venv / "launcher" / "git-credential-sagemaker")
    subprocess.run(
        [python, "-I", "-m", "git_credential_sagemaker.provision.launcher", launcher],
        check=True,
        cwd=venv,
    )
    return Venv(f"pip {version}", python, str(venv / "bin" / "git-credential-sagemaker"), launcher)


def medians(commands: Sequence[Command], runs: int) -> dict[str, float]:
    """Median wall time of each command, run in turns (shuffled each round) after one
    unmeasured round, so neither a burst of load nor a neighbour's leftovers favour one."""
    times: dict[str, list[float]] = {c.name: [] for c in commands}
    order = list(commands)
    shuffle = random.Random(0).shuffle
    for round_ in range(runs + 1):
        shuffle(order)
        for c in order:
            start = time.perf_counter()
            done = subprocess.run(c.args, input=c.stdin, env=c.env, capture_output=True)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"{c.name} failed: {done.stderr.decode()[:200]}")
            if round_:
                times[c.name].append(elapsed)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="gcs-bench-"))
    try:
        return bench(root, args.runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench(root: Path, runs: int) -> int:
    wheel = build_wheel(root)
    venvs = [
        install(root, "venv-bundled-pip", wheel, False),
        install(root, "venv-newest-pip", wheel, True),
    ]
    bundled = venvs[0]
    (root / "home").mkdir()
    (root / "run").mkdir(mode=0o700)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(root / "home"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CREDENTIAL_SAGEMAKER_DIR": str(root / "store"),
        "XDG_RUNTIME_DIR": str(root / "run"),
        "GIT_TERMINAL_PROMPT": "0",
    }
    with_pass = {**env, "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": PASSPHRASE}
    plain_store = str(root / "plain-credentials")
    credential_store = ["git", "credential-store", "--file", plain_store]
    helper = bundled.launcher
    subprocess.run([helper, "store"], input=STORED, env=with_pass, check=True)
    subprocess.run([*credential_store, "store"], input=STORED, env=env, check=True)
    baselines = {
        v.label: Command(f"python -c pass, {v.label} venv", [v.python, "-c", "pass"], env)
        for v in venvs
    }

    locked = medians(
        [
            baselines[bundled.label],
            Command(
                "get, locked, passphrase from env (Argon2id each call)",
                [helper, "get"],
                with_pass,
                REQUEST,
            ),
            Command("store, passphrase from env", [helper, "store"], with_pass, STORED),
        ],
        max(3, runs // 3),
    )
    askpass = root / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{PASSPHRASE}'\n")
    askpass.chmod(0o700)
    unlock_env = {**env, "GIT_ASKPASS": str(askpass), "GIT_TERMINAL_PROMPT": "1"}
    subprocess.run([helper, "unlock"], env=unlock_env, check=True, capture_output=True)
    try:
        with GitServer(root / "server") as server:
            server.allow("alice", "ghp_benchmarktoken")
            url = server.create_repo("bench")
            line = f"protocol=http\nhost=127.0.0.1:{server.port}\nusername=alice\n"
            line += "password=ghp_benchmarktoken\n"
            subprocess.run([helper, "store"], input=line.encode(), env=env, check=True)
            subprocess.run([*credential_store, "store"], input=line.encode(), env=env, check=True)

            def ls_remote(helper_value: str) -> list[str]:
                return ["git", "-c", f"credential.helper={helper_value}", "ls-remote", url]

            commands = [
                *baselines.values(),
                Command("git credential-store get", [*credential_store, "get"], env, REQUEST),
                Command(
                    "git ls-remote, credential-store", ls_remote(f"store --file {plain_store}"), env
                ),
            ]
            for v in venvs:
                commands += [
                    Command(
                        f"get, unlocked: the launcher setup writes, {v.label} venv",
                        [v.launcher, "get"],
                        env,
                        REQUEST,
                    ),
                    Command(
                        f"get, unlocked: {v.label}'s console script",
                        [v.pip_script, "get"],
                        env,
                        REQUEST,
                    ),
                    Command(
                        f"git ls-remote, the launcher setup writes, {v.label} venv",
                        ls_remote(v.launcher),
                        env,
                    ),
                    Command(
                        f"git ls-remote, {v.label}'s console script", ls_remote(v.pip_script), env
                    ),
                ]
            unlocked = medians(commands, runs)
    finally:
        subprocess.run([helper, "lock"], env=env, check=False, capture_output=True)
    report(locked, unlocked, venvs, runs)
    return 0


def report(
    locked: dict[str, float], unlocked: dict[str, float], venvs: Sequence[Venv], runs: int
) -> None:
    store_ls = unlocked["git ls-remote, credential-store"]

    def base(name: str) -> float:
        """The `python -c pass` of the venv a row ran in (the bundled pip's for the rest)."""
        label = next(
            (v.label for v in venvs if f"{v.label} " in name or f"{v.label}'s" in name),
            venvs[0].label,
        )
        return unlocked[f"python -c pass, {label} venv"]

    print(
        f"Median of {runs} runs in turns, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end "
        f"(locked rows: {max(3, runs // 3)} runs, against their own baseline)\n"
    )
    print("| command | median | x python -c pass (same venv) | x git ls-remote, credential-store |")
    print("|---|---:|---:|---:|")
    for name, seconds in unlocked.items():
        versus_store = f"{seconds / store_ls:.2f}" if name.startswith("git ls-remote") else ""
        print(f"| {name} | {seconds * 1000:.1f} ms | {seconds / base(name):.2f} | {versus_store} |")
    locked_base = next(iter(locked.values()))
    for name, seconds in list(locked.items())[1:]:
        print(f"| {name} | {seconds * 1000:.1f} ms | {seconds / locked_base:.2f} | |")
    print()
    for v in venvs:
        get = unlocked[f"get, unlocked: the launcher setup writes, {v.label} venv"]
        ls = unlocked[f"git ls-remote, the launcher setup writes, {v.label} venv"]
        for what, ratio, most, against in (
            ("unlocked get", get / base(v.label + " "), 1.0, "python -c pass"),
            ("git ls-remote", ls / store_ls, 1.8, "credential-store"),
        ):
            verdict = "met" if ratio <= most else "missed"
            print(
                f"Target, {v.label} venv: {what} at most {most}x {against}: {ratio:.2f} ({verdict})"
            )


if __name__ == "__main__":
    raise SystemExit(main())
