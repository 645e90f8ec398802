"""The unlock agent: lifetime, detaching, same-uid only, stale sockets, no key on disk, and
surviving whatever a client sends."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import PASSPHRASE, Askpass, User

from git_credential_sagemaker.credential import agent, agentclient

GH = b"protocol=https\nhost=github.com\n"
TOKEN = "ghp_agenttesttoken0123456789"
# In an env given to User.run, None removes the variable.
NOPASS = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}


def locked_user(user: User) -> dict[str, str | None]:
    """Store a token, then drop the environment passphrase: the next use must unlock."""
    assert user.helper("store", GH + f"username=alice\npassword={TOKEN}\n".encode()).returncode == 0
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    return {
        **NOPASS,
        "GIT_TERMINAL_PROMPT": None,
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


def status(user: User) -> str:
    return user.run(["git-credential-sagemaker", "status"]).stdout.decode()


def socket_path(user: User) -> str:
    return agentclient.socket_path(
        str(user.runtime / "git-credential-sagemaker"), str(user.store_dir)
    )


def wait_for(done: Callable[[], bool], limit: float = 20) -> bool:
    """Poll until `done()`; the limit only bounds a failing test, it is not what is tested."""
    deadline = time.monotonic() + limit
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def send_raw(user: User, message: bytes) -> bytes | None:
    """What the agent replies to these exact bytes, or None when it drops the connection."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(socket_path(user))
        chunks = []
        try:
            sock.sendall(message)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            pass
    return b"".join(chunks) or None


def agent_pid(user: User) -> int:
    """The pid the agent itself reports over its socket."""
    reply = agentclient.call(socket_path(user), agentclient.encode("status", str(user.store_dir)))
    assert reply is not None and reply[0] == agentclient.OK, reply
    fields = dict(line.split("=", 1) for line in reply[1].decode().splitlines())
    return int(fields["pid"])


def get_answers(user: User) -> bool:
    """A real `get` through the helper, with no passphrase to fall back on."""
    done = user.helper("get", GH, env=NOPASS)
    return done.returncode == 0 and done.stdout.endswith(f"password={TOKEN}\n".encode())


@pytest.fixture
def unlocked(user: User) -> Iterator[dict[str, str | None]]:
    env = locked_user(user)
    done = user.run(["git-credential-sagemaker", "unlock"], env=env)
    assert done.returncode == 0, done.stderr
    yield env
    user.run(["git-credential-sagemaker", "lock"])


def test_fill_never_hangs_on_the_agents_inherited_pipes(user: User) -> None:
    env = locked_user(user)
    # Spawns the agent. A fill waiting on the agent's pipes would never end: run's bound
    # (support.COMMAND_TIMEOUT) fails the test then.
    done = user.git("credential", "fill", input=GH, env=env)
    assert done.returncode == 0 and f"password={TOKEN}".encode() in done.stdout
    assert user.agent_pids(), done.stderr
    # Later calls need no passphrase at all.
    again = user.git("credential", "fill", input=GH, env=NOPASS)
    assert f"password={TOKEN}".encode() in again.stdout
    user.run(["git-credential-sagemaker", "lock"])
    assert "locked" in status(user)


def test_agent_is_a_detached_session_leader_with_no_inherited_fds(
    user: User, unlocked: dict[str, str]
) -> None:
    (pid,) = user.agent_pids()
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
    while user.agent_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not user.agent_pids()
    assert "locked" in status(user)
    assert not list((user.runtime / "git-credential-sagemaker").glob("*.sock"))


def test_timeout_from_git_config(user: User) -> None:
    env = locked_user(user)
    (user.home / ".gitconfig").write_text('[credential "sagemaker"]\n\ttimeout = 30\n')
    assert user.run(["git-credential-sagemaker", "unlock"], env=env).returncode == 0
    assert "until" in status(user) and "the machine stops" not in status(user)
    user.run(["git-credential-sagemaker", "lock"])


def test_lock_forgets_the_key(user: User, unlocked: dict[str, str]) -> None:
    assert user.agent_pids()
    assert user.run(["git-credential-sagemaker", "lock"]).stdout == b"locked\n"
    assert wait_for(lambda: not user.agent_pids())
    done = user.helper("get", GH, env=NOPASS)
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
    assert get_answers(user)
    (pid,) = user.agent_pids()
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
    try:
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
        assert not thread.is_alive()
        listener.close()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_get_while_unlocked_imports_nothing_heavy(user: User, unlocked: dict[str, str]) -> None:
    done = user.run(
        [sys.executable, "-X", "importtime", "-m", "git_credential_sagemaker", "get"],
        input=GH,
        env=NOPASS,
    )
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


# -- whatever a client sends, the agent lives on -------------------------------------------


def one_error_line(reply: bytes | None) -> bool:
    if reply is None:
        return False
    status_line, _, body = reply.partition(b"\n")
    return status_line == agentclient.ERROR and body.strip() != b"" and b"\n" not in body.strip()


def test_malformed_requests_get_one_error_line_and_the_same_agent_answers_after(
    user: User, unlocked: dict[str, str]
) -> None:
    pid = agent_pid(user)
    store = os.path.abspath(user.store_dir).encode()
    errors = {
        "an unknown operation": b"frobnicate\n" + store + b"\n" + GH,
        "an operation that is not UTF-8": b"g\xffet\n" + store + b"\n" + GH,
        "a request that is not UTF-8": b"get\n" + store + b"\nprotocol=https\nhost=\xff\xfe\n",
        "a NUL byte": b"get\n" + store + b"\nprotocol=https\nhost=git\0hub.com\n",
        "a line without '='": b"get\n" + store + b"\nprotocol\n",
        "bytes with no structure": bytes(range(256)) * 4,
        "nothing at all": b"",
        "another store": agentclient.encode("get", str(user.root / "elsewhere"), GH),
        "an expiry too long to be a number": b"store\n"
        + store
        + b"\n"
        + GH
        + b"username=alice\npassword=x\npassword_expiry_utc="
        + b"9" * 5000
        + b"\n",
    }
    for what, message in errors.items():
        reply = send_raw(user, message)
        assert one_error_line(reply), (what, reply)
        assert TOKEN.encode() not in (reply or b""), what
    # A host git itself would refuse: no match (or an error line), nothing more.
    reply = send_raw(user, b"get\n" + store + b"\nurl=https://[oops/x\n")
    assert reply == b"nomatch\n" or one_error_line(reply), reply
    # Over 1 MiB: an error line, or the connection is dropped.
    reply = send_raw(user, b"get\n" + store + b"\n" + b"x" * (2 << 20))
    assert reply is None or one_error_line(reply), reply[:200] if reply else reply
    assert get_answers(user)
    assert agent_pid(user) == pid and user.agent_pids() == [pid]


def test_a_request_that_breaks_an_operation_is_one_line_from_the_helper(
    user: User, unlocked: dict[str, str]
) -> None:
    pid = agent_pid(user)
    huge_expiry = GH + b"username=alice\npassword=other\npassword_expiry_utc=" + b"9" * 5000
    done = user.helper("store", huge_expiry + b"\n", env=NOPASS)
    assert done.returncode != 0
    assert len(done.stderr.splitlines()) == 1 and b"Traceback" not in done.stderr, done.stderr
    assert get_answers(user)  # the old token, from the same agent
    assert agent_pid(user) == pid


def test_a_keyring_file_that_no_longer_parses_is_one_line_and_the_agent_lives_on(
    user: User, unlocked: dict[str, str]
) -> None:
    pid = agent_pid(user)
    keyring = user.store_dir / "keyring.cfg"
    good = keyring.read_bytes()
    keyring.write_bytes(b"[not a keyring\n")
    done = user.helper("get", GH, env=NOPASS)
    assert done.returncode != 0 and done.stdout == b""
    assert len(done.stderr.splitlines()) == 1 and b"unreadable" in done.stderr, done.stderr
    keyring.write_bytes(good)
    assert get_answers(user)
    assert agent_pid(user) == pid


def test_clients_that_hang_up_early_do_not_end_the_agent(
    user: User, unlocked: dict[str, str]
) -> None:
    pid = agent_pid(user)
    request = agentclient.encode("get", str(user.store_dir), GH)
    for send, shut in ((b"", False), (request[:5], False), (request, True)):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(socket_path(user))
            sock.sendall(send)
            if shut:
                sock.shutdown(socket.SHUT_WR)  # then leave without reading the reply
    assert get_answers(user)
    assert agent_pid(user) == pid


def test_a_client_that_says_nothing_does_not_stall_others(
    user: User, unlocked: dict[str, str]
) -> None:
    pid = agent_pid(user)
    silent = []
    for _ in range(3):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(socket_path(user))
        silent.append(sock)
    try:
        assert get_answers(user)
        # ... answered while every silent client is still connected, not after they were dropped.
        for sock in silent:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
        # The agent does drop them in the end, and lives on.
        for sock in silent:
            sock.settimeout(60)
            assert sock.recv(1) == b""
    finally:
        for sock in silent:
            sock.close()
    assert agent_pid(user) == pid


def test_lock_stops_the_agent_while_clients_say_nothing(
    user: User, unlocked: dict[str, str]
) -> None:
    silent = []
    try:
        for _ in range(3):  # served one by one, they would hold `lock` past its client's patience
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(socket_path(user))
            silent.append(sock)
        assert user.run(["git-credential-sagemaker", "lock"]).stdout == b"locked\n"
        assert wait_for(lambda: not user.agent_pids())
        for sock in silent:
            sock.settimeout(60)
            assert sock.recv(1) == b""
    finally:
        for sock in silent:
            sock.close()
    assert not os.path.lexists(socket_path(user))
    assert "locked" in status(user)


def test_concurrent_stores_through_the_agent_all_land(user: User, unlocked: dict[str, str]) -> None:
    hosts = [f"host{i}.example.com" for i in range(8)]

    def store(host: str) -> None:
        request = f"protocol=https\nhost={host}\nusername=u\npassword=tok-{host}\n".encode()
        reply = agentclient.call(
            socket_path(user), agentclient.encode("store", str(user.store_dir), request)
        )
        assert reply == (agentclient.OK, b"")

    threads = [threading.Thread(target=store, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for host in hosts:
        done = user.helper("get", f"protocol=https\nhost={host}\n".encode(), env=NOPASS)
        assert done.stdout.endswith(f"password=tok-{host}\n".encode()), (host, done.stderr)


# -- a timeout that is not a sensible number of seconds ------------------------------------


@pytest.mark.parametrize("timeout", ["nan", "1e20", "inf", "-1", "0"])
def test_unlock_refuses_a_timeout_that_is_not_a_sensible_number(user: User, timeout: str) -> None:
    env = locked_user(user)
    done = user.run(["git-credential-sagemaker", "unlock", "--timeout", timeout], env=env)
    assert done.returncode != 0 and b"unlocked" not in done.stdout
    assert b"Traceback" not in done.stderr
    # One line says what is wrong, and nothing else is printed.
    message = done.stderr.decode().splitlines()
    assert len(message) == 1 and "--timeout" in message[0] and timeout in message[0], message
    assert not user.agent_pids()
    assert not list(user.runtime.rglob("*.sock"))
    assert "locked" in status(user) and "unlocked" not in status(user)


@pytest.mark.parametrize("timeout", ["nan", "1e20", "inf", "-1", "0", "soon"])
def test_the_agent_itself_refuses_a_timeout_that_is_not_a_sensible_number(
    user: User, timeout: str
) -> None:
    path = user.runtime / "agent.sock"
    done = user.run(
        [
            sys.executable,
            "-m",
            "git_credential_sagemaker.credential.agent",
            "--store",
            str(user.store_dir),
            "--socket",
            str(path),
            "--timeout",
            timeout,
        ],
        input=os.urandom(32),
    )
    assert done.returncode != 0
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "--timeout" in lines[0], lines
    assert not path.exists()
    assert not user.agent_pids()


@pytest.mark.parametrize("request_bytes", [b"protocol=https\n", b"", b"host=github.com\n"])
@pytest.mark.parametrize("with_agent", [False, True])
def test_a_request_without_a_protocol_or_host_gets_no_token_and_erases_none(
    user: User, request_bytes: bytes, with_agent: bool
) -> None:
    """git refuses such a request itself (since 2.26.1); a wildcard match would answer, or
    erase, whatever token is stored first."""
    env: dict[str, str | None] = {}  # the slow path: the environment's passphrase opens it
    assert user.helper("store", GH + f"username=alice\npassword={TOKEN}\n".encode()).returncode == 0
    if with_agent:
        env = locked_user(user)
        assert user.run(["git-credential-sagemaker", "unlock"], env=env).returncode == 0
        env = NOPASS

    got = user.helper("get", request_bytes, env=env)
    assert (got.returncode, got.stdout, got.stderr) == (0, b"", b"")
    erased = user.helper("erase", request_bytes, env=env)
    assert (erased.returncode, erased.stdout, erased.stderr) == (0, b"", b"")

    assert user.helper("get", GH, env=env).stdout.endswith(f"password={TOKEN}\n".encode())
    if with_agent:
        user.run(["git-credential-sagemaker", "lock"])


def test_unlock_with_the_environments_passphrase_says_nothing_stays_unlocked(user: User) -> None:
    """The variable is for automation, with no background process: `unlock` must not claim
    to have unlocked what the next `status` and git find locked."""
    assert user.helper("store", GH + f"username=alice\npassword={TOKEN}\n".encode()).returncode == 0

    done = user.run(["git-credential-sagemaker", "unlock"])  # the variable is set

    said = done.stderr.decode()
    assert done.returncode == 1 and done.stdout == b"", done.stdout
    assert said.count("\n") == 1 and "nothing stays unlocked" in said, said
    assert "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE" in said and PASSPHRASE not in said
    assert "keyring:  locked" in status(user) and not user.agent_pids()
    wrong = user.run(
        ["git-credential-sagemaker", "unlock"], env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "no"}
    )
    assert wrong.returncode == 1 and b"wrong passphrase" in wrong.stderr


def test_an_agent_started_where_the_passphrase_variable_is_set_does_not_inherit_it(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "passphrase-in-the-environment-" + os.urandom(4).hex()
    monkeypatch.setenv("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE", secret)
    agent.spawn(user.store_dir, user.runtime / "agent", os.urandom(32), timeout=None)
    (pid,) = user.agent_pids()
    environ = Path(f"/proc/{pid}/environ").read_bytes()  # as root; the agent is not dumpable
    assert b"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE" not in environ
    assert secret.encode() not in environ and b"PATH=" in environ
