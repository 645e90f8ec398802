"""Whole-process wall time of the credential helper against baselines measured in the same run.

    python benchmarks/bench_helper.py [--runs N]

It times what git really runs: the helper is built into a wheel and installed with pip into
a throwaway venv, as on a notebook instance, so `bin/git-credential-sagemaker` is pip's own
launcher. (The development venv's editable install would not do: its import hook loads
pathlib and re into every Python process there, `python -c pass` included.) Next to it, the
launcher pip wrote before 25.0, which imports re. Commands run in turns, one of each per
round in a shuffled order, so a busy machine slows them alike; the table shows medians,
each also as a ratio to `python -c pass` in the same venv. A throwaway HOME, store and
runtime dir, and a git server on 127.0.0.1 from tests/gitserver.py.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
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
# distlib's template, which pip used for console scripts before 25.0 (pypa/pip#13166).
OLD_PIP_LAUNCHER = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {func}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({func}())
"""


class Command(NamedTuple):
    name: str
    args: list[str]
    env: dict[str, str]
    stdin: bytes = b""


def install(root: Path) -> Path:
    """A venv holding this checkout as pip installs it; other packages come from ours."""
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "git_credential_sagemaker", src / "git_credential_sagemaker", True, skip)
    shutil.copytree(ROOT / "hooks", src / "hooks", ignore=skip)
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "wheels"), str(src)], check=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    wheel = next((root / "wheels").glob("*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Appended after the venv's own site-packages: keyring and cryptography for the slow path.
    (Path(site) / "zz-benchmark-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


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
    venv = install(root)
    bin_dir = venv / "bin"
    python, helper = str(bin_dir / "python"), str(bin_dir / "git-credential-sagemaker")
    old_helper = bin_dir / "git-credential-sagemaker-old-pip"
    # The same entry point as pip's own launcher names, in the old template.
    entry = next(line for line in Path(helper).read_text().splitlines() if line.startswith("from"))
    _, module, _, func = entry.split()
    old_helper.write_text(OLD_PIP_LAUNCHER.format(python=python, module=module, func=func))
    old_helper.chmod(0o755)
    (root / "home").mkdir()
    (root / "run").mkdir(mode=0o700)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(root / "home"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CREDENTIAL_SAGEMAKER_DIR": str(root / "store"),
        "XDG_RUNTIME_DIR": str(root / "run"),
        "GIT_TERMINAL_PROMPT": "0",
    }
    with_pass = {**env, "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": PASSPHRASE}
    plain_store = str(root / "plain-credentials")
    credential_store = ["git", "credential-store", "--file", plain_store]
    subprocess.run([helper, "store"], input=STORED, env=with_pass, check=True)
    subprocess.run([*credential_store, "store"], input=STORED, env=env, check=True)
    baseline = Command("python -c pass (baseline)", [python, "-c", "pass"], env)

    locked = medians(
        [
            baseline,
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

            pip_version = subprocess.run(
                [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True
            ).stdout.split()[1]
            unlocked = medians(
                [
                    baseline,
                    Command("git credential-store get", [*credential_store, "get"], env, REQUEST),
                    Command(
                        f"get, unlocked: pip {pip_version}'s launcher",
                        [helper, "get"],
                        env,
                        REQUEST,
                    ),
                    Command(
                        "get, unlocked: launcher of pip < 25 (imports re)",
                        [str(old_helper), "get"],
                        env,
                        REQUEST,
                    ),
                    Command(
                        "git ls-remote, credential-store",
                        ls_remote(f"store --file {plain_store}"),
                        env,
                    ),
                    Command(
                        "git ls-remote, helper by name (credential.helper=sagemaker)",
                        ls_remote("sagemaker"),
                        env,
                    ),
                    Command(
                        "git ls-remote, helper by absolute path (as on a notebook instance)",
                        ls_remote(helper),
                        env,
                    ),
                    Command(
                        "git ls-remote, absolute path, launcher of pip < 25",
                        ls_remote(str(old_helper)),
                        env,
                    ),
                ],
                runs,
            )
    finally:
        subprocess.run([helper, "lock"], env=env, check=False, capture_output=True)
    report(locked, unlocked, runs)
    return 0


def report(locked: dict[str, float], unlocked: dict[str, float], runs: int) -> None:
    names = list(unlocked)
    base = unlocked[names[0]]
    store_ls = unlocked["git ls-remote, credential-store"]
    print(
        f"Median of {runs} runs in turns, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end "
        f"(locked rows: {max(3, runs // 3)} runs, against their own baseline)\n"
    )
    print("| command | median | x python -c pass | x git ls-remote, credential-store |")
    print("|---|---:|---:|---:|")
    for name, seconds in unlocked.items():
        versus_store = f"{seconds / store_ls:.2f}" if name.startswith("git ls-remote") else ""
        print(f"| {name} | {seconds * 1000:.1f} ms | {seconds / base:.2f} | {versus_store} |")
    for name, seconds in list(locked.items())[1:]:
        print(f"| {name} | {seconds * 1000:.1f} ms | {seconds / locked[names[0]]:.2f} | |")
    print()
    targets = [(names[2], base, 1.5, "python -c pass")]
    targets += [(name, store_ls, 2.5, "credential-store") for name in names[5:7]]
    for name, against, most, what in targets:
        ratio = unlocked[name] / against
        verdict = "met" if ratio <= most else "missed"
        print(f"Target: {name}: at most {most} x {what}: {ratio:.2f} ({verdict})")


if __name__ == "__main__":
    raise SystemExit(main())
