"""The unlock agent: lifetime, detaching, same-uid only, stale sockets, and no key on disk."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from usertools import PASSPHRASE, Askpass, User

from git_credential_sagemaker.credential import agent, agentclient

GH = b"protocol=https\nhost=github.com\n"
TOKEN = "ghp_agenttesttoken0123456789"


def locked_user(user: User) -> dict[str, str]:
    """Store a token, then drop the environment passphrase: the next use must unlock."""
    assert user.helper("store", GH + f"username=alice\npassword={TOKEN}\n".encode()).returncode == 0
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    return {
        "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None,
        "GIT_TERMINAL_PROMPT": None,  # type: ignore[dict-item]
        "GIT_ASKPASS": str(askpass.program),
    }


def command_lines() -> dict[int, bytes]:
    """Every running process's argv, as /proc shows it to anyone on the machine."""
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found[int(proc.name)] = (proc / "cmdline").read_bytes()
            except OSError:
                continue
    return found


def agent_pids(user: User) -> list[int]:
    pids = []
    for pid, cmdline in command_lines().items():
        if (
            b"git_credential_sagemaker.credential.agent" in cmdline
            and str(user.store_dir).encode() in cmdline
        ):
            pids.append(pid)
    return pids


def status(user: User) -> str:
    return user.run(["git-credential-sagemaker", "status"]).stdout.decode()


@pytest.fixture
def unlocked(user: User) -> dict[str, str]:
    env = locked_user(user)
    done = user.run(["git-credential-sagemaker", "unlock"], env=env)
    assert done.returncode == 0, done.stderr
    yield env
    user.run(["git-credential-sagemaker", "lock"])


def test_fill_never_hangs_on_the_agents_inherited_pipes(user: User) -> None:
    env = locked_user(user)
    start = time.monotonic()
    done = user.git("credential", "fill", input=GH, env=env)  # spawns the agent
    assert done.returncode == 0 and f"password={TOKEN}".encode() in done.stdout
    assert time.monotonic() - start < 10
    assert agent_pids(user), done.stderr
    # Later calls need no passphrase at all.
    again = user.git(
        "credential", "fill", input=GH, env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
    )  # type: ignore[dict-item]
    assert f"password={TOKEN}".encode() in again.stdout
    user.run(["git-credential-sagemaker", "lock"])
    assert "locked" in status(user)


def test_agent_is_a_detached_session_leader_with_no_inherited_fds(
    user: User, unlocked: dict[str, str]
) -> None:
    (pid,) = agent_pids(user)
    assert os.getsid(pid) == pid
    fds = {int(fd.name): os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    assert all(target == "/dev/null" for fd, target in fds.items() if fd < 3)
    others = [t for fd, t in fds.items() if fd >= 3]
    assert len(others) == 1 and others[0].startswith("socket:")


def test_agent_exits_after_its_timeout(user: User) -> None:
    env = locked_user(user)
    done = user.run(["git-credential-sagemaker", "unlock", "--timeout", "1"], env=env)
    assert done.returncode == 0 and b"for 1s" in done.stdout
    assert "unlocked" in status(user)
    deadline = time.monotonic() + 10
    while agent_pids(user) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not agent_pids(user)
    assert "locked" in status(user)
    assert not list((user.runtime / "git-credential-sagemaker").glob("*.sock"))


def test_timeout_from_git_config(user: User) -> None:
    env = locked_user(user)
    (user.home / ".gitconfig").write_text('[credential "sagemaker"]\n\ttimeout = 30\n')
    assert user.run(["git-credential-sagemaker", "unlock"], env=env).returncode == 0
    assert "until" in status(user) and "the machine stops" not in status(user)
    user.run(["git-credential-sagemaker", "lock"])


def test_lock_forgets_the_key(user: User, unlocked: dict[str, str]) -> None:
    assert agent_pids(user)
    assert user.run(["git-credential-sagemaker", "lock"]).stdout == b"locked\n"
    time.sleep(0.2)
    assert not agent_pids(user)
    nopass = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
    done = user.helper("get", GH, env=nopass)  # type: ignore[arg-type]
    assert done.stdout == b"" and b"the keyring is locked" in done.stderr


def test_stale_socket_is_recovered_silently(user: User) -> None:
    env = locked_user(user)
    runtime = user.runtime / "git-credential-sagemaker"
    runtime.mkdir(mode=0o700)
    path = agentclient.socket_path(str(runtime), str(user.store_dir))
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()  # the file stays, nobody listens: what a killed agent leaves
    done = user.git("credential", "fill", input=GH, env=env)
    assert done.returncode == 0 and done.stderr == b""
    assert "unlocked" in status(user)
    user.run(["git-credential-sagemaker", "lock"])


def test_no_key_or_token_anywhere_on_disk_argv_or_environment(
    user: User, unlocked: dict[str, str]
) -> None:
    assert user.helper(
        "get",
        GH,
        env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None},  # type: ignore[dict-item]
    ).stdout.endswith(f"password={TOKEN}\n".encode())
    (pid,) = agent_pids(user)
    secrets = [TOKEN.encode(), PASSPHRASE.encode()]
    for root in (user.store_dir, user.runtime):
        for path in root.rglob("*"):
            if path.is_file():
                assert not any(s in path.read_bytes() for s in secrets), path
    for other, cmdline in command_lines().items():
        assert not any(s in cmdline for s in secrets), other
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert not any(s in environ for s in secrets)


def test_peer_check_itself() -> None:
    assert agent.peer_allowed(1000, 1000)
    assert not agent.peer_allowed(0, 1000)
    assert not agent.peer_allowed(1001, 1000)


@pytest.mark.skipif(os.getuid() != 0, reason="connecting as another uid needs root")
def test_agent_refuses_a_client_with_another_uid(tmp_path: Path) -> None:
    from git_credential_sagemaker.credential.store import Store

    store = tmp_path / "store"
    ring = Store(store, passphrase=lambda new: PASSPHRASE)
    ring.put(
        {"protocol": "https", "host": "github.com", "path": None, "username": "a"},
        {"password": TOKEN},
    )
    shared = Path(tempfile.mkdtemp(prefix="gcs-shared-"))  # reachable by every user
    shared.chmod(0o777)
    path = str(shared / "agent.sock")
    listener = agent.listen(path)
    os.chmod(path, 0o777)  # noqa: S103  # only the uid check stands between another user and the key
    server = agent.Agent(store, ring.unlock(), timeout=5)
    thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
    thread.start()
    message = agentclient.encode("get", str(store), GH)
    probe = (
        f"import socket; s=socket.socket(socket.AF_UNIX); s.connect({path!r})\n"
        f"try:\n s.sendall({message!r}); s.shutdown(socket.SHUT_WR); "
        "print(repr(s.recv(4096)))\n"
        "except (ConnectionResetError, BrokenPipeError):\n print('reset')"
    )
    other = subprocess.run(
        [shutil.which("python3", path="/usr/bin:/bin") or "python3", "-c", probe],
        user=65534,
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() in (b"b''", b"reset")  # connected, then refused
    mine = agentclient.call(path, message)
    assert mine is not None and TOKEN.encode() in mine[1]
    agentclient.call(path, agentclient.encode("lock", str(store)))
    thread.join(10)
    listener.close()


def test_get_while_unlocked_imports_nothing_heavy(user: User, unlocked: dict[str, str]) -> None:
    done = user.run(
        [sys.executable, "-X", "importtime", "-m", "git_credential_sagemaker", "get"],
        input=GH,
        env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None},
    )  # type: ignore[dict-item]
    assert done.stdout.endswith(f"password={TOKEN}\n".encode())
    imported = {
        line.split("|")[-1].strip()
        for line in done.stderr.decode().splitlines()
        if line.startswith("import time:")
    }
    assert "git_credential_sagemaker.credential.agentclient" in imported
    heavy = {
        m
        for m in imported
        if m.split(".")[0]
        in ("keyring", "keyrings", "cryptography", "jupytext", "nbformat", "argparse", "subprocess")
    }
    assert not heavy, heavy
