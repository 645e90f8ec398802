"""Concurrent writers lose nothing, and a writer killed at any point leaves a good file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from usertools import PASSPHRASE, User

from git_credential_sagemaker.credential.store import Store


def test_eight_concurrent_writers_lose_no_update(user: User) -> None:
    script = (
        "for i in $(seq 1 25); do "
        'printf "protocol=https\\nhost=w$W-h$i.example\\nusername=u\\npassword=t$W-$i\\n" '
        "| git -c credential.helper= -c credential.helper=sagemaker credential approve "
        '|| echo "approve failed" >&2; done'
    )
    writers = [
        subprocess.Popen(
            ["sh", "-c", script],
            env={**user.env, "W": str(w)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(8)
    ]
    for proc in writers:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and err == b"", err
    ring = Store(user.store_dir, passphrase=lambda new: PASSPHRASE)
    found = {e.host: ring.secrets(e)["password"] for e in ring.entries()}
    expected = {f"w{w}-h{i}.example": f"t{w}-{i}" for w in range(8) for i in range(1, 26)}
    assert found == expected


def test_sigkill_at_random_points_never_breaks_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    ring = Store(directory, passphrase=lambda new: PASSPHRASE)
    ring.put(
        {"protocol": "https", "host": "seed", "path": None, "username": "u"}, {"password": "seed"}
    )
    key = ring.unlock()
    committed: set[str] = {"seed"}
    rng = random.Random(1234)
    for round_ in range(100):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: stores entries until killed, reporting each one done
            os.close(read_end)
            writer = Store(directory, key=key)
            for i in range(1000):
                host = f"r{round_}-{i}"
                writer.put(
                    {"protocol": "https", "host": host, "path": None, "username": "u"},
                    {"password": f"p-{host}"},
                )
                os.write(write_end, f"{host}\n".encode())
            os._exit(0)
        os.close(write_end)
        time.sleep(rng.uniform(0, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(read_end) as reports:
            committed |= set(reports.read().split())
        reader = Store(directory, key=key)
        stored = {e.host: reader.secrets(e)["password"] for e in reader.entries()}
        missing = {h for h in committed if h not in stored}
        assert not missing, f"round {round_}: lost {sorted(missing)[:3]}"
        assert all(stored[h] == ("seed" if h == "seed" else f"p-{h}") for h in committed)
    leftovers = [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
    assert len(committed) > 100 and len(leftovers) <= 100
