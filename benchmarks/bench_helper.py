"""Whole-process wall time of the credential helper against baselines measured in the same run.

    python benchmarks/bench_helper.py [--runs N]

Prints a Markdown table of medians, each also as a ratio to `python -c pass`. Uses a
throwaway HOME, store and runtime dir, and a git server on 127.0.0.1 from tests/gitserver.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from gitserver import GitServer

BIN = Path(sys.executable).parent
HELPER = str(BIN / "git-credential-sagemaker")
REQUEST = b"protocol=https\nhost=github.com\n"
STORED = REQUEST + b"username=alice\npassword=ghp_benchmarktoken\n"


def median_time(
    args: Sequence[str],
    env: dict[str, str],
    runs: int,
    stdin: bytes = b"",
    cwd: Optional[str] = None,
) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(args, input=stdin, env=env, capture_output=True, cwd=cwd, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{args[0]} failed: {done.stderr.decode()[:200]}")
    return statistics.median(times)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="gcs-bench-"))
    (root / "home").mkdir()
    env = {
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "HOME": str(root / "home"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CREDENTIAL_SAGEMAKER_DIR": str(root / "store"),
        "XDG_RUNTIME_DIR": str(root / "run"),
        "GIT_TERMINAL_PROMPT": "0",
    }
    (root / "run").mkdir(mode=0o700)
    with_pass = {**env, "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "bench passphrase"}
    subprocess.run([HELPER, "store"], input=STORED, env=with_pass, check=True)
    plain_store = str(root / "plain-credentials")
    subprocess.run(
        ["git", "credential-store", "--file", plain_store, "store"],
        input=STORED,
        env=env,
        check=True,
    )
    rows: list[tuple[str, float]] = []
    runs = args.runs
    rows.append(
        ("python -c pass (baseline)", median_time([sys.executable, "-c", "pass"], env, runs))
    )
    rows.append(
        (
            "git credential-store get",
            median_time(
                ["git", "credential-store", "--file", plain_store, "get"], env, runs, REQUEST
            ),
        )
    )
    rows.append(
        (
            "get, locked, passphrase from env (Argon2id each call)",
            median_time([HELPER, "get"], with_pass, runs, REQUEST),
        )
    )
    rows.append(
        ("store, passphrase from env", median_time([HELPER, "store"], with_pass, runs, STORED))
    )
    askpass = root / "askpass.sh"
    askpass.write_text("#!/bin/sh\necho 'bench passphrase'\n")
    askpass.chmod(0o700)
    subprocess.run(
        [HELPER, "unlock"],
        env={**env, "GIT_ASKPASS": str(askpass), "GIT_TERMINAL_PROMPT": "1"},
        check=True,
        capture_output=True,
    )
    rows.append(("get, unlocked (agent)", median_time([HELPER, "get"], env, runs, REQUEST)))

    with GitServer(root / "server") as server:
        server.allow("alice", "ghp_benchmarktoken")
        url = server.create_repo("bench")
        host = f"127.0.0.1:{server.port}"
        line = f"protocol=http\nhost={host}\nusername=alice\npassword=ghp_benchmarktoken\n"
        subprocess.run([HELPER, "store"], input=line.encode(), env=env, check=True)
        subprocess.run(
            ["git", "credential-store", "--file", plain_store, "store"],
            input=line.encode(),
            env=env,
            check=True,
        )
        ls_ours = ["git", "-c", "credential.helper=sagemaker", "ls-remote", url]
        ls_store = ["git", "-c", f"credential.helper=store --file {plain_store}", "ls-remote", url]
        rows.append(("git ls-remote, credential-store", median_time(ls_store, env, runs)))
        rows.append(("git ls-remote, this helper (unlocked)", median_time(ls_ours, env, runs)))
    subprocess.run([HELPER, "lock"], env=env, check=False, capture_output=True)

    base = rows[0][1]
    print(f"Median of {runs} runs, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores\n")
    print("| command | median | x python -c pass |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.1f} ms | {seconds / base:.2f} |")
    ours = dict(rows)
    ratio = ours["get, unlocked (agent)"] / base
    print(
        f"\nTarget: unlocked get at most 2.00 x python -c pass: {ratio:.2f} "
        f"({'met' if ratio <= 2 else 'missed'})"
    )
    ls = ours["git ls-remote, this helper (unlocked)"] / ours["git ls-remote, credential-store"]
    print(f"git ls-remote with this helper / with credential-store: {ls:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
