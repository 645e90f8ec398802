"""Concurrent writers lose nothing, and a writer killed at any point leaves a good file.

The locking is tested with the key handed to each writer process, so the run measures the
lock, not 200 key derivations; one small test does the same through real git.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import PASSPHRASE, User

from git_credential_sagemaker.credential.store import Store

WRITERS, HOSTS = 8, 25
KILL_ROUNDS = 100

# One writer process: reports it is ready, reads the key from stdin (never argv), then stores
# HOSTS entries of its own, each through the store's locked read-modify-write.
WRITER = """
import sys
from pathlib import Path
from git_credential_sagemaker.credential import crypto
from git_credential_sagemaker.credential.store import Store
directory, writer, hosts = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
ring = Store(directory, key=sys.stdin.buffer.read(crypto.KEY_BYTES))
for i in range(hosts):
    ring.put(
        {"protocol": "https", "host": f"w{writer}-h{i}.example", "path": None, "username": "u"},
        {"password": f"t{writer}-{i}"},
    )
"""


def seeded_store(directory: Path) -> tuple[Store, bytes]:
    """A store holding one entry, and its key (derived once)."""
    ring = Store(directory, passphrase=lambda new: PASSPHRASE)
    ring.put(
        {"protocol": "https", "host": "seed", "path": None, "username": "u"}, {"password": "seed"}
    )
    return ring, ring.unlock()


def passwords(ring: Store) -> dict[str, str]:
    return {e.host: ring.secrets(e)["password"] for e in ring.entries()}


def test_eight_concurrent_writers_lose_no_update(user: User) -> None:
    ring, key = seeded_store(user.store_dir)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(user.store_dir), str(w), str(HOSTS)],
            env=user.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(WRITERS)
    ]
    try:
        for proc in writers:  # every writer is up before any starts: they all contend
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        for proc in writers:
            assert proc.stdin is not None
            proc.stdin.write(key)
            proc.stdin.flush()
        for proc in writers:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0 and err == b"", err.decode()
    finally:
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    expected = {f"w{w}-h{i}.example": f"t{w}-{i}" for w in range(WRITERS) for i in range(HOSTS)}
    assert passwords(ring) == {"seed": "seed", **expected}


def test_writers_racing_through_git_to_create_the_store_lose_nothing(user: User) -> None:
    script = (
        "for i in 1 2; do "
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
        for w in range(4)
    ]
    for proc in writers:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and err == b"", err
    ring = Store(user.store_dir, passphrase=lambda new: PASSPHRASE)
    assert passwords(ring) == {f"w{w}-h{i}.example": f"t{w}-{i}" for w in range(4) for i in (1, 2)}


def test_sigkill_at_random_points_never_breaks_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    _, key = seeded_store(directory)
    rng = random.Random(1234)
    # Each round's writer is killed only after it reported this many writes done: the kill
    # lands inside a later write, and the count of entries that must survive is known.
    waits = [rng.randint(1, 3) for _ in range(KILL_ROUNDS)]
    committed: set[str] = {"seed"}
    for round_, wait in enumerate(waits):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: stores entries until killed, reporting each one done
            try:
                os.close(read_end)
                writer = Store(directory, key=key)
                for i in itertools.count():
                    host = f"r{round_}-{i}"
                    writer.put(
                        {"protocol": "https", "host": host, "path": None, "username": "u"},
                        {"password": f"p-{host}"},
                    )
                    os.write(write_end, f"{host}\n".encode())
            finally:
                os._exit(1)
        os.close(write_end)
        with os.fdopen(read_end) as reports:
            for _ in range(wait):
                line = reports.readline()
                assert line, f"round {round_}: the writer died on its own"
                committed.add(line.strip())
            time.sleep(rng.uniform(0, 0.01))  # a random point of the next write
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            committed |= set(reports.read().split())
        stored = passwords(Store(directory, key=key))
        missing = {h for h in committed if h not in stored}
        assert not missing, f"round {round_}: lost {sorted(missing)[:3]}"
        assert all(stored[h] == ("seed" if h == "seed" else f"p-{h}") for h in committed)
    assert len(stored) >= 1 + sum(waits)
    leftovers = [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= KILL_ROUNDS  # at most the one write each kill interrupted
