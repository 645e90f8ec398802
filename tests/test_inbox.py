"""The sealed inbox: a token git stores while the keyring is locked is kept for the next unlock.

Locked means a keyring on disk and nothing to open it with here: no agent, no environment
passphrase, no KMS. A store or erase then seals an item to the keyring's public key, asking
for nothing; the next unlock applies the items in order, as if they had happened then.
"""

from __future__ import annotations

import base64
import configparser
import random
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from gitserver import GitServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import PASSPHRASE, Askpass, User, merged

from git_credential_sagemaker.credential import inbox, operations, protocol
from git_credential_sagemaker.credential.store import Store

APP = "git-credential-sagemaker"
GH = "protocol=https\nhost=github.com\n"
LOCKED = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}


def locked_user(user: User) -> None:
    """A keyring with one token, and then nothing that opens it without asking."""
    user.approve(GH + "username=old\npassword=ghp_old\n")
    user.env.pop("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE")


def unlock(user: User) -> None:
    askpass = Askpass(Path(tempfile.mkdtemp(dir=user.root)), "unused", PASSPHRASE)
    env = {"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None}
    done = user.run([APP, "unlock"], env=env)
    assert done.returncode == 0, done.stderr


def inbox_items(user: User) -> list[str]:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(user.store_dir / "keyring.cfg")
    if not parser.has_section(inbox.SECTION):
        return []
    return [value for _, value in parser.items(inbox.SECTION)]


def no_plaintext(user: User, *secrets: str) -> None:
    for path in user.store_dir.rglob("*"):
        if path.is_file():
            for secret in secrets:
                assert secret.encode() not in path.read_bytes(), path


def test_a_locked_push_through_askpass_keeps_the_token_for_the_next_unlock(
    user: User, git_server: GitServer
) -> None:
    locked_user(user)
    name, token = "askpass-user", "ghp_typedIntoAnAskpassBox"
    git_server.allow(name, token)
    url = git_server.create_repo(f"inbox-{time.monotonic_ns()}")
    askpass = Askpass(user.root, name, token)  # answers git's prompts; no passphrase
    env = {"GIT_ASKPASS": str(askpass.program)}
    (user.home / ".gitconfig").write_text("[credential]\n\thelper = sagemaker\n")

    done = user.run(["git", "ls-remote", url], env=env)

    assert done.returncode == 0, done.stderr
    assert not any("assphrase" in prompt for prompt in askpass.prompts), askpass.prompts
    assert len(inbox_items(user)) == 1
    assert user.agent_pids() == []
    no_plaintext(user, token)
    unlock(user)
    assert inbox_items(user) == []
    host = url.split("/")[2]
    got = user.helper("get", f"protocol=http\nhost={host}\n".encode())
    assert f"password={token}".encode() in got.stdout
    no_plaintext(user, token)


def test_a_rejected_token_queued_while_locked_never_comes_back(user: User) -> None:
    locked_user(user)
    store = GH + "username=new\npassword=ghp_rejected\n"
    assert user.helper("store", store.encode(), env=LOCKED).returncode == 0
    assert user.helper("erase", store.encode(), env=LOCKED).returncode == 0
    assert len(inbox_items(user)) == 2

    unlock(user)

    got = user.helper("get", (GH + "username=new\n").encode())
    assert b"ghp_rejected" not in got.stdout
    assert b"password=ghp_old" in user.helper("get", (GH + "username=old\n").encode()).stdout
    no_plaintext(user, "ghp_rejected")


def test_an_ephemeral_credential_is_never_kept(user: User) -> None:
    locked_user(user)
    request = GH + "username=e\npassword=ghp_ephemeral\nephemeral=1\n"
    assert user.helper("store", request.encode(), env=LOCKED).returncode == 0
    assert inbox_items(user) == []


def test_status_counts_what_waits_and_a_full_inbox_says_so(user: User) -> None:
    locked_user(user)
    for i in range(inbox.MAX_ITEMS):
        request = GH + f"username=u{i}\npassword=ghp_{i:04d}\n"
        done = user.helper("store", request.encode(), env=LOCKED)
        assert done.returncode == 0, done.stderr
    status = user.run([APP, "status"]).stdout.decode()
    assert f"inbox:    {inbox.MAX_ITEMS} tokens waiting for unlock" in status

    full = user.helper("store", (GH + "username=late\npassword=ghp_late\n").encode(), env=LOCKED)

    assert full.returncode == 1
    assert full.stderr.count(b"\n") == 1 and b"is full (64 items waiting)" in full.stderr
    assert len(inbox_items(user)) == inbox.MAX_ITEMS
    unlock(user)
    listed = user.run([APP, "list"]).stdout.decode()
    assert all(f"u{i} " in listed for i in range(inbox.MAX_ITEMS))


def test_an_older_keyring_gets_an_inbox_at_its_next_unlock(user: User) -> None:
    user.approve(GH + "username=old\npassword=ghp_old\n")
    path = user.store_dir / "keyring.cfg"
    text = path.read_text()
    lines = [
        ln for ln in text.splitlines(True) if not ln.startswith(("inbox_public", "inbox_private"))
    ]
    path.write_text("".join(lines))
    user.env.pop("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE")
    refused = user.helper("store", (GH + "username=x\npassword=ghp_x\n").encode())
    assert refused.returncode == 1 and b"unlock" in refused.stderr  # no inbox yet, no prompt

    unlock(user)

    assert "inbox_public" in path.read_text()
    assert user.helper("store", (GH + "username=y\npassword=ghp_y\n").encode()).returncode == 0


# -- items that are not what they seem --------------------------------------------------------


def unlocked_store(directory: Path) -> Store:
    store = Store(directory, passphrase=lambda new: PASSPHRASE)
    store.put(
        {"protocol": "https", "host": "github.com", "path": None, "username": "a"},
        {"password": "ghp_a"},
    )
    return Store(directory, key=store.unlock())


def plant(directory: Path, name: str, value: str) -> None:
    path = directory / "keyring.cfg"
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    if not parser.has_section(inbox.SECTION):
        parser.add_section(inbox.SECTION)
    parser.set(inbox.SECTION, name, value)
    with path.open("w") as out:
        parser.write(out)


def item(user: str, token: str) -> inbox.Item:
    request = protocol.Request(protocol="https", host="github.com", username=user, password=token)
    return inbox.Item("store", protocol.format_request(request))


def test_damaged_forged_and_foreign_items_are_refused_and_the_rest_applied(
    tmp_path: Path,
) -> None:
    store = unlocked_store(tmp_path / "mine")
    other = unlocked_store(tmp_path / "other")
    locked = Store(store.directory)
    locked.queue(item("good1", "ghp_good1"))
    good = inbox_of(store.directory)[0]
    raw = bytearray(base64.b64decode(good))
    raw[-1] ^= 1
    plant(store.directory, "tampered", base64.b64encode(bytes(raw)).decode())
    plant(store.directory, "truncated", good[: len(good) // 2])
    Store(other.directory).queue(item("foreign", "ghp_foreign"))
    plant(store.directory, "foreign", inbox_of(other.directory)[0])
    locked.queue(item("good2", "ghp_good2"))
    plant(store.directory, "oversized", base64.b64encode(b"x" * 70000).decode())

    said = store.take_in(lambda it: operations.apply(it, store))

    assert len(said) == 4 and all("was not sealed to this keyring" in line for line in said)
    users = sorted(e.username or "" for e in store.entries())
    assert users == ["a", "good1", "good2"]
    assert store.pending() == 0


def inbox_of(directory: Path) -> list[str]:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(directory / "keyring.cfg")
    return [v for _, v in parser.items(inbox.SECTION)] if parser.has_section(inbox.SECTION) else []


# -- any sequence, locked or not, ends as it would unlocked -----------------------------------

USERS = st.sampled_from(["alice", "bob"])
TOKENS = st.sampled_from(["ghp_1", "ghp_2", "ghp_3"])
STEPS = st.lists(
    st.tuples(st.sampled_from(["store", "erase", "erase-any"]), USERS, TOKENS, st.booleans()),
    min_size=1,
    max_size=12,
)


def state(store: Store) -> list[tuple[str, str]]:
    return sorted((e.username or "", store.secrets(e)["password"]) for e in store.entries())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_any_sequence_locked_or_unlocked_ends_as_it_would_unlocked(
    steps: list[tuple[str, str, str, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as top:
        real, model = unlocked_store(Path(top) / "real"), unlocked_store(Path(top) / "model")
        for op, user, token, locked in steps:
            fields = {"protocol": "https", "host": "github.com", "username": user}
            if op != "erase-any":
                fields["password"] = token
            wire = protocol.format_request(protocol.Request(**fields))
            step = inbox.Item("store" if op == "store" else "erase", wire)
            operations.apply(step, model)
            if locked:
                Store(real.directory).queue(step)
            else:
                real.take_in(lambda it: operations.apply(it, real))  # an unlock, first
                operations.apply(step, real)
        real.take_in(lambda it: operations.apply(it, real))

        assert state(real) == state(model)
        assert real.pending() == 0


# -- a crash while the inbox is taken in -------------------------------------------------------


@pytest.mark.timeout(600)
def test_kill_9_while_the_inbox_is_taken_in_loses_nothing_and_applies_nothing_twice(
    user: User,
) -> None:
    locked_user(user)
    rng = random.Random(20)
    expected = {"old": "ghp_old"}
    for round_ in range(20):
        name, token = f"r{round_}", f"ghp_round{round_}"
        erase = GH + f"username=old\npassword={expected.get('old', 'none')}\n"
        for op, request in (
            ("store", GH + f"username={name}\npassword={token}\n"),
            ("erase", erase),
        ):
            assert user.helper(op, request.encode(), env=LOCKED).returncode == 0
        expected[name] = token
        expected.pop("old", None)
        child = subprocess.Popen(  # opens the store with the passphrase: takes the inbox in
            [APP, "get"],
            env=merged(user.env, {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": PASSPHRASE}),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert child.stdin is not None
        child.stdin.write((GH + f"username={name}\n").encode())
        child.stdin.close()
        time.sleep(rng.uniform(0.0, 0.5))
        child.kill()
        child.wait(timeout=30)
        assert user.run([APP, "list"]).returncode == 0  # the store always opens
    unlock(user)
    assert inbox_items(user) == []
    for name, token in expected.items():
        got = user.helper("get", (GH + f"username={name}\n").encode())
        assert f"password={token}".encode() in got.stdout, name
    listed = user.run([APP, "list"]).stdout.decode()
    assert listed.count("github.com") == len(expected)
