"""Tokens from AWS Secrets Manager (credential.<url>.sagemakerSecret): answered with no prompt,
kept by the agent in memory for at most an hour, never written to the keyring, never changed
by `erase`, and every failure one line.

Real git, the loopback git server, moto's server as the AWS API, and the real agent.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitserver import GitServer
from motoserver import MotoServer
from support import PASSPHRASE, Askpass, User
from test_push import commit

from git_credential_sagemaker.credential import agent, agentclient, protocol
from git_credential_sagemaker.credential import secrets as sm
from git_credential_sagemaker.credential.protocol import Request

PREFIX = b"git-credential-sagemaker: "
OTHER = b"protocol=https\nhost=other.example.com\n"
OTHER_TOKEN = "ghp_othertoken0123456789"
# In an env given to User.run, None removes the variable.
NOPASS: dict[str, str | None] = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}


def fresh(prefix: str) -> tuple[str, str, str]:
    """A secret name, a username and a token no other test uses."""
    tag = secrets.token_hex(4)
    return f"AmazonSageMaker-{prefix}-{tag}", f"bot{tag}", f"ghp_{secrets.token_hex(16)}"


def create_secret(aws: MotoServer, name: str, text: str) -> None:
    aws.client("secretsmanager").create_secret(Name=name, SecretString=text)


def secret_json(username: str, token: str) -> str:
    return json.dumps({"username": username, "password": token})


def secret_value(aws: MotoServer, name: str) -> Any:
    return aws.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]


def configure(user: User, url: str, name: str) -> None:
    key = f"credential.{url}.sagemakerSecret"
    assert user.run(["git", "config", "--global", key, name]).returncode == 0


def ours(stderr: bytes) -> list[bytes]:
    """The lines this helper wrote."""
    return [line for line in stderr.splitlines() if line.startswith(PREFIX)]


def keyring_bytes(user: User) -> bytes:
    """Every byte under the store directory (none when it does not exist)."""
    if not user.store_dir.exists():
        return b""
    return b"".join(p.read_bytes() for p in sorted(user.store_dir.rglob("*")) if p.is_file())


class Watch:
    """Every command line seen in /proc while it runs, sampled as fast as /proc allows."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    try:
                        self.seen.add((proc / "cmdline").read_bytes())
                    except OSError:
                        continue

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def agent_running(user: User) -> Iterator[dict[str, str | None]]:
    """An unlocked agent over a store that holds another host's token; stopped afterwards."""
    stored = user.helper("store", OTHER + f"username=alice\npassword={OTHER_TOKEN}\n".encode())
    assert stored.returncode == 0, stored.stderr
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    env = {**NOPASS, "GIT_TERMINAL_PROMPT": None, "GIT_ASKPASS": str(askpass.program)}
    done = user.run(["git-credential-sagemaker", "unlock"], env=env)
    assert done.returncode == 0, done.stderr
    assert user.agent_pids()
    yield env
    user.run(["git-credential-sagemaker", "lock"])


# -- end to end ------------------------------------------------------------------------------


def test_push_uses_the_secret_with_no_prompt_and_never_stores_it(
    user: User, git_server: GitServer, aws: MotoServer
) -> None:
    name, username, token = fresh("push")
    git_server.allow(username, token)
    url = git_server.create_repo(f"repo-{username}")
    create_secret(aws, name, secret_json(username, token))
    configure(user, git_server.base_url, name)
    askpass = Askpass(user.root, "nobody", "not-the-token")  # logs any prompt at all
    env = {**aws.env, **NOPASS, "GIT_ASKPASS": str(askpass.program)}
    work = user.root / "work"

    with Watch() as watch:
        cloned = user.git("clone", "-q", url, str(work), env=env)
        assert cloned.returncode == 0, cloned.stderr
        commit(user, work, "a.txt")
        pushed = user.git("push", "-q", "origin", "HEAD", cwd=work, env=env)
    assert pushed.returncode == 0, pushed.stderr

    assert askpass.prompts == []  # no token prompt, and no passphrase prompt
    assert git_server.auth_attempts[-1] == (username, True)
    for done in (cloned, pushed):
        assert token.encode() not in done.stdout + done.stderr
        assert ours(done.stderr) == []
    # git's `store` after each success was refused: nothing was written at all.
    assert not (user.store_dir / "keyring.cfg").exists()
    assert token.encode() not in keyring_bytes(user)
    # The helper ran while /proc was watched, and the token was in no process's argv.
    assert any(b"git-credential-sagemaker" in line for line in watch.seen)
    assert not any(token.encode() in line for line in watch.seen)


def test_a_token_saved_with_login_comes_before_the_secret_locked_or_not(
    user: User, aws: MotoServer
) -> None:
    name, username, token = fresh("precedence")
    stored = user.helper("store", OTHER + f"username=alice\npassword={OTHER_TOKEN}\n".encode())
    assert stored.returncode == 0, stored.stderr
    create_secret(aws, name, secret_json(username, token))
    configure(user, "https://other.example.com", name)
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    prompts_allowed = {"GIT_TERMINAL_PROMPT": None}
    env = {**aws.env, **NOPASS, **prompts_allowed, "GIT_ASKPASS": str(askpass.program)}

    locked = user.helper("get", OTHER, env=env)
    assert locked.stdout == f"username=alice\npassword={OTHER_TOKEN}\n".encode(), locked.stderr
    assert len(askpass.prompts) == 1 and "Passphrase" in askpass.prompts[0]
    unlocked = user.helper("get", OTHER, env=env)  # the agent answers, as it did before
    assert unlocked.stdout == locked.stdout and len(askpass.prompts) == 1

    # Logged out of that host: the secret serves, with nothing asked.
    assert (
        user.run(["git-credential-sagemaker", "logout", "other.example.com"], env=env).returncode
        == 0
    )
    done = user.helper("get", OTHER, env=env)
    assert done.stdout == f"username={username}\npassword={token}\n".encode(), done.stderr
    assert len(askpass.prompts) == 1 and done.stderr == b""


def test_the_agent_caches_the_secret_and_refuses_to_store_it(
    user: User, aws: MotoServer, agent_running: dict[str, str | None]
) -> None:
    name, username, token = fresh("cache")
    request = "protocol=https\nhost=git.example.com\n"
    create_secret(aws, name, secret_json(username, token))
    configure(user, "https://git.example.com", name)
    env = {**aws.env, **NOPASS}
    before = keyring_bytes(user)

    first = user.fill(request, **{k: v for k, v in env.items() if v is not None})
    assert first["password"] == token and first["username"] == username
    # The secret is gone from AWS: only the agent's memory can answer now.
    aws.client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    second = user.git("credential", "fill", input=request.encode(), env=env)
    assert second.returncode == 0, second.stderr
    assert f"password={token}\n".encode() in second.stdout and second.stderr == b""

    approved = user.git(
        "credential",
        "approve",
        input=f"{request}username={username}\npassword={token}\n".encode(),
        env=env,
    )
    assert approved.returncode == 0 and approved.stderr == b"", approved.stderr
    assert keyring_bytes(user) == before  # not a byte written
    assert token.encode() not in keyring_bytes(user)
    # The other host's token is still answered from the store by the same agent.
    other = user.helper("get", OTHER, env=NOPASS)
    assert other.stdout.endswith(f"password={OTHER_TOKEN}\n".encode())


def login(user: User, url: str, username: str, token: str, env: dict[str, str | None]) -> None:
    """`login URL --username U`, the token typed through askpass."""
    where = user.root / f"login-{secrets.token_hex(3)}"
    where.mkdir()
    askpass = Askpass(where, username, token)
    done = user.run(
        ["git-credential-sagemaker", "login", url, "--username", username],
        env={**env, "GIT_TERMINAL_PROMPT": None, "GIT_ASKPASS": str(askpass.program)},
    )
    assert done.returncode == 0, done.stderr


SECRET_URL = "https://git.example.com"
SECRET_REQUEST = b"protocol=https\nhost=git.example.com\n"


def test_a_token_saved_with_login_wins_over_the_agents_cached_secret(
    user: User, aws: MotoServer, agent_running: dict[str, str | None]
) -> None:
    name, username, token = fresh("shadowed")
    create_secret(aws, name, secret_json(username, token))
    configure(user, SECRET_URL, name)
    env = {**aws.env, **NOPASS}
    cached = user.helper("get", SECRET_REQUEST, env=env)
    assert cached.stdout.endswith(f"password={token}\n".encode()), cached.stderr
    agents = user.agent_pids()

    login(user, SECRET_URL, "me", "ghp_mine0123456789", env)

    got = user.helper("get", SECRET_REQUEST, env=env)
    assert got.stdout == b"username=me\npassword=ghp_mine0123456789\n", got.stderr
    assert user.agent_pids() == agents  # through the same agent: nothing was asked


def test_the_agents_cached_secret_follows_git_config(
    user: User, aws: MotoServer, agent_running: dict[str, str | None]
) -> None:
    name, username, token = fresh("before")
    other, other_user, other_token = fresh("after")
    create_secret(aws, name, secret_json(username, token))
    create_secret(aws, other, secret_json(other_user, other_token))
    configure(user, SECRET_URL, name)
    env = {**aws.env, **NOPASS}
    assert user.helper("get", SECRET_REQUEST, env=env).stdout.endswith(f"={token}\n".encode())

    configure(user, SECRET_URL, other)  # another secret for the URL: its token, at once
    moved = user.helper("get", SECRET_REQUEST, env=env)
    assert moved.stdout == f"username={other_user}\npassword={other_token}\n".encode()

    key = f"credential.{SECRET_URL}.sagemakerSecret"
    assert user.run(["git", "config", "--global", "--unset", key]).returncode == 0
    unset = user.helper("get", SECRET_REQUEST, env=env)  # nothing else is stored for it
    assert (unset.returncode, unset.stdout, unset.stderr) == (0, b"", b"")


def test_after_git_erases_a_cached_token_the_next_get_asks_nothing(
    user: User, aws: MotoServer, agent_running: dict[str, str | None]
) -> None:
    """The agent stays: a restarted one would forget which tokens came from a secret."""
    name, username, token = fresh("erased")
    create_secret(aws, name, secret_json(username, token))
    configure(user, SECRET_URL, name)
    env = {**aws.env, **agent_running}  # prompts on: a passphrase prompt would be answered
    prompts = Path(str(agent_running["GIT_ASKPASS"])).parent / "log"
    asked = prompts.read_text()
    assert user.helper("get", SECRET_REQUEST, env=env).stdout.endswith(f"={token}\n".encode())
    login(user, SECRET_URL, "me", "ghp_mine0123456789", env)
    agents = user.agent_pids()

    rejected = f"url={SECRET_URL}\nusername={username}\npassword={token}\n".encode()
    erased = user.git("credential", "reject", input=rejected, env=env)
    assert erased.returncode == 0 and b"rotate" in erased.stderr, erased.stderr
    assert len(ours(erased.stderr)) == 1 and token.encode() not in erased.stderr
    got = user.helper("get", SECRET_REQUEST, env=env)

    assert got.stdout == b"username=me\npassword=ghp_mine0123456789\n", got.stderr
    assert prompts.read_text() == asked and user.agent_pids() == agents
    approved = user.git("credential", "approve", input=rejected, env=env)
    assert approved.returncode == 0 and approved.stderr == b"", approved.stderr
    listed = user.run(["git-credential-sagemaker", "list"]).stdout.decode()
    assert username not in listed and "me" in listed  # still refused: never stored


@pytest.mark.parametrize("with_agent", [False, True])
def test_a_rejected_secret_is_reported_and_left_unchanged(
    user: User,
    git_server: GitServer,
    aws: MotoServer,
    with_agent: bool,
    request: pytest.FixtureRequest,
) -> None:
    if with_agent:
        request.getfixturevalue("agent_running")
    name, username, token = fresh("rejected")
    url = git_server.create_repo(f"repo-{username}")  # the server never accepts `token`
    create_secret(aws, name, secret_json(username, token))
    configure(user, git_server.base_url, name)
    env = {**aws.env, **NOPASS}

    failed = user.git("ls-remote", url, env=env)
    assert failed.returncode != 0
    said = ours(failed.stderr)
    assert len(said) == 1, failed.stderr
    assert name.encode() in said[0] and b"rejected" in said[0] and b"rotate" in said[0]
    assert token.encode() not in failed.stdout + failed.stderr
    assert b"Traceback" not in failed.stderr
    assert secret_value(aws, name) == secret_json(username, token)  # erase never touched it
    assert token.encode() not in keyring_bytes(user)

    # The owner rotates it: the next call reads the new token (the agent dropped the old one).
    rotated = f"ghp_{secrets.token_hex(16)}"
    aws.client("secretsmanager").put_secret_value(
        SecretId=name, SecretString=secret_json(username, rotated)
    )
    git_server.allow(username, rotated)
    again = user.git("ls-remote", url, env=env)
    assert again.returncode == 0, again.stderr
    assert ours(again.stderr) == []


# -- failures: one line, no traceback, no token, git goes on --------------------------------


def one_line_failure(user: User, env: dict[str, str | None], *words: bytes) -> bytes:
    """Run a helper `get` and a `git credential fill`; both say one line holding `words`."""
    get = user.helper("get", b"protocol=https\nhost=git.example.com\n", env=env)
    assert get.stdout == b""
    assert len(get.stderr.splitlines()) == 1 and get.stderr.startswith(PREFIX), get.stderr
    for word in words:
        assert word in get.stderr, get.stderr
    fill = user.git("credential", "fill", input=b"url=https://git.example.com\n", env=env)
    assert fill.returncode != 0  # git went on without an answer; prompts are off
    assert ours(fill.stderr) == get.stderr.splitlines(), fill.stderr
    assert b"Traceback" not in fill.stderr
    return get.stderr


def test_a_missing_secret_is_one_line(user: User, aws: MotoServer) -> None:
    configure(user, "https://git.example.com", "AmazonSageMaker-nonexistent")
    one_line_failure(user, {**aws.env, **NOPASS}, b"AmazonSageMaker-nonexistent", b"does not exist")


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("ghp_{token}", b"not JSON"),
        ('["ghp_{token}"]', b"not a JSON object"),
        ('{{"user": "bot", "password": "ghp_{token}"}}', b"no username"),
        ('{{"username": "bot", "token": "ghp_{token}"}}', b"no password"),
        ('{{"username": "bot", "password": "ghp_{token}\\nquit=1"}}', b"control character"),
    ],
)
def test_a_malformed_secret_is_one_line_without_the_token(
    user: User, aws: MotoServer, text: str, cause: bytes
) -> None:
    name, _, _ = fresh("malformed")
    token = secrets.token_hex(16)
    create_secret(aws, name, text.format(token=token))
    configure(user, "https://git.example.com", name)
    said = one_line_failure(user, {**aws.env, **NOPASS}, name.encode(), cause)
    assert token.encode() not in said


def test_unreachable_aws_is_one_line(user: User, aws: MotoServer) -> None:
    configure(user, "https://git.example.com", "AmazonSageMaker-any")
    closed = aws.env | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}"}
    one_line_failure(user, {**closed, **NOPASS}, b"AmazonSageMaker-any", b"could not be reached")


def test_no_aws_credentials_is_one_line(user: User, aws: MotoServer) -> None:
    configure(user, "https://git.example.com", "AmazonSageMaker-any")
    env = {**aws.env, **NOPASS, "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(user.root / "none")
    one_line_failure(user, env, b"no AWS credentials")


def test_no_boto3_is_one_line(user: User, aws: MotoServer, tmp_path: Path) -> None:
    """A boto3 that can't be imported, as on an install without the [aws] extra."""
    shadow = tmp_path / "shadow" / "boto3"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no boto3 here')\n")
    configure(user, "https://git.example.com", "AmazonSageMaker-any")
    env = {**aws.env, **NOPASS, "PYTHONPATH": str(shadow.parent)}
    one_line_failure(user, env, b"boto3 is not installed", b"[aws]")


def test_in_a_kernel_a_failure_also_stops_git(user: User, aws: MotoServer) -> None:
    configure(user, "https://git.example.com", "AmazonSageMaker-nonexistent")
    env = {**aws.env, **NOPASS, "JPY_PARENT_PID": "1"}
    done = user.helper("get", b"protocol=https\nhost=git.example.com\n", env=env)
    assert done.stdout == b"quit=1\n"
    assert len(done.stderr.splitlines()) == 1 and b"does not exist" in done.stderr


def test_an_empty_value_turns_the_secret_off_for_a_url(user: User, aws: MotoServer) -> None:
    name, username, token = fresh("scoped")
    create_secret(aws, name, secret_json(username, token))
    configure(user, "https://git.example.com", name)
    configure(user, "https://nosecret@git.example.com", "")
    env = {**aws.env, **NOPASS}
    request = b"protocol=https\nhost=git.example.com\n"
    assert user.helper("get", request, env=env).stdout.endswith(f"={token}\n".encode())
    off = user.helper("get", request + b"username=nosecret\n", env=env)
    assert off.stdout == b"" and off.stderr == b""


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the agent's cache, in-process (its timer in seconds, not an hour) ----------------------


def call(server: agent.Agent, op: str, request: Request, secret: str = "") -> bytes:
    """The agent's reply; `cache` names the secret on a first line of its own."""
    payload = (f"{secret}\n".encode() if secret else b"") + protocol.format_request(request)
    return server.handle(agentclient.encode(op, str(server.store_dir), payload))[0]


def test_the_agent_forgets_a_secret_token_in_time_but_never_stores_it(tmp_path: Path) -> None:
    server = agent.Agent(tmp_path / "store", os.urandom(32), None, cache_seconds=0.5)
    key = Request(protocol="https", host="git.example.com")
    token = f"ghp_{secrets.token_hex(16)}"
    given = Request(protocol="https", host="git.example.com", username="bot", password=token)

    assert call(server, "get", key) == b"nomatch\n"
    assert call(server, "cache", given, "team") == b"ok\n"
    assert call(server, "get", key) == f"cached\nteam\nusername=bot\npassword={token}\n".encode()
    time.sleep(0.6)
    assert call(server, "get", key) == b"secret\nteam"  # expired: the helper reads it again
    assert call(server, "store", given) == b"ok\n"  # refused, though the value is forgotten
    assert not (tmp_path / "store").exists()
    assert call(server, "erase", given) == b"secret\nteam"

    assert agent.Agent(tmp_path, os.urandom(32), None, cache_seconds=1e9).cache_seconds == 3600


def test_erase_drops_the_cached_secret_token(tmp_path: Path) -> None:
    server = agent.Agent(tmp_path / "store", os.urandom(32), None)
    token = f"ghp_{secrets.token_hex(16)}"
    given = Request(protocol="https", host="git.example.com", username="bot", password=token)
    assert call(server, "cache", given, "team") == b"ok\n"
    assert call(server, "erase", given) == b"secret\nteam"
    key = Request(protocol="https", host="git.example.com")
    assert call(server, "get", key) == b"secret\nteam"
    assert call(server, "cache", key, "team").startswith(b"error\n")
    assert call(server, "cache", given).startswith(b"error\n")  # no secret named


def test_drop_forgets_the_cached_token_but_not_that_it_came_from_a_secret(tmp_path: Path) -> None:
    server = agent.Agent(tmp_path / "store", os.urandom(32), None)
    token = f"ghp_{secrets.token_hex(16)}"
    given = Request(protocol="https", host="git.example.com", username="bot", password=token)
    key = Request(protocol="https", host="git.example.com")
    assert call(server, "cache", given, "team") == b"ok\n"
    assert call(server, "get", Request(protocol="https")) == b"nomatch\n"  # no host: no answer
    assert call(server, "drop", key) == b"ok\n"
    assert call(server, "get", key) == b"nomatch\n"
    assert call(server, "store", given) == b"ok\n"  # still refused
    assert not (tmp_path / "store").exists()


# -- pure parts ------------------------------------------------------------------------------


def test_parse_and_messages() -> None:
    assert sm.parse("s", '{"username": "u", "password": "p", "x": 1}') == ("u", "p")
    with pytest.raises(sm.aws.AwsError) as caught:
        sm.parse("s\nfake", '{"username": "u", "password": ""}')
    assert "\n" not in str(caught.value) and "no password" in str(caught.value)
    line = sm.rejected("AmazonSageMaker-team", "github.com")
    assert "AmazonSageMaker-team" in line and "rotate" in line and "\n" not in line
    assert sm.url_of(Request(protocol="https", host="h", username="a b", path="o/r")) == (
        "https://a%20b@h/o/r"
    )
    assert sm.url_of(Request(host="h")) is None
    assert not sm.configured({"credential.helper": "sagemaker"})
    assert sm.configured({"credential.https://h.sagemakersecret": "s"})
