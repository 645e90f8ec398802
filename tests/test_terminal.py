"""A user at a real terminal (pexpect): the token is typed once, the passphrase once a boot."""

from __future__ import annotations

import secrets
from pathlib import Path

import pexpect
import pytest
from gitserver import GitServer
from support import User

PASSPHRASE = "terminal passphrase 42"


@pytest.fixture
def terminal_user(user: User, git_server: GitServer) -> tuple[User, Path, str, str]:
    """A clone whose remote demands a token, with git set to use the helper, nothing stored."""
    name = f"tty{secrets.token_hex(3)}"
    token = f"ghp_{secrets.token_hex(12)}"
    git_server.allow(name, token)
    url = git_server.create_repo(f"repo-{name}")
    work = user.root / "work"
    assert (
        user.run(
            ["git", "clone", "-q", str(git_server.repo_path(f"repo-{name}")), str(work)]
        ).returncode
        == 0
    )
    assert user.run(["git", "remote", "set-url", "origin", url], cwd=work).returncode == 0
    (user.home / ".gitconfig").write_text("[credential]\n\thelper = sagemaker\n")
    for var in ("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE", "GIT_TERMINAL_PROMPT"):
        user.env.pop(var)
    return user, work, name, token


def push(user: User, work: Path, change: str) -> pexpect.spawn:
    (work / change).write_text(change)
    user.run(["git", "add", change], cwd=work)
    user.run(["git", "commit", "-qm", change], cwd=work)
    return pexpect.spawn(
        "git",
        ["push", "-q", "origin", "HEAD"],
        cwd=str(work),
        env=user.env,
        timeout=30,
        encoding="utf-8",
    )


def finish(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return str(child.before)


def test_token_once_then_nothing_then_one_passphrase_per_unlock(
    terminal_user: tuple[User, Path, str, str],
) -> None:
    user, work, name, token = terminal_user

    # 1. The first push asks for the token, then for a new passphrase, twice.
    child = push(user, work, "one")
    child.expect("Username for '")
    child.sendline(name)
    child.expect("Token for '")
    child.sendline(token)
    child.expect("Choose a passphrase for")
    child.sendline(PASSPHRASE)
    child.expect("Confirm the passphrase")
    child.sendline(PASSPHRASE)
    rest = finish(child)
    assert child.exitstatus == 0, rest
    assert token not in rest

    # 2. The second push asks nothing.
    child = push(user, work, "two")
    rest = finish(child)
    assert child.exitstatus == 0 and "assphrase" not in rest and "Token" not in rest

    # 3. After lock, exactly one passphrase prompt.
    assert user.run(["git-credential-sagemaker", "lock"]).returncode == 0
    child = push(user, work, "three")
    child.expect("Passphrase for")
    child.sendline(PASSPHRASE)
    rest = finish(child)
    assert child.exitstatus == 0 and "Passphrase" not in rest, rest


def test_three_wrong_passphrases_give_an_error_and_change_nothing(
    terminal_user: tuple[User, Path, str, str],
) -> None:
    user, _, name, token = terminal_user
    stored = f"protocol=http\nhost=127.0.0.1\nusername={name}\npassword={token}\n"
    done = user.helper(
        "store", stored.encode(), env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": PASSPHRASE}
    )
    assert done.returncode == 0
    keyring = user.store_dir / "keyring.cfg"
    before = keyring.read_bytes()
    child = pexpect.spawn(
        "git-credential-sagemaker",
        ["get"],
        cwd=str(user.root),
        env=user.env,
        timeout=30,
        encoding="utf-8",
    )
    child.send("protocol=http\nhost=127.0.0.1\n")
    child.sendeof()
    for _ in range(3):
        child.expect("Passphrase for")
        child.sendline("wrong")
    child.expect("wrong passphrase for .*3 tries.*nothing was changed")
    finish(child)
    assert child.exitstatus == 1
    assert keyring.read_bytes() == before


def test_prompt_text_escapes_control_characters(user: User) -> None:
    user.env.pop("GIT_TERMINAL_PROMPT")
    child = pexpect.spawn(
        "git-credential-sagemaker",
        ["get"],
        cwd=str(user.root),
        env=user.env,
        timeout=30,
        encoding="utf-8",
    )
    child.send("protocol=https\nhost=evil\x1b[2J.example\n")
    child.sendeof()
    child.expect("Username for '(.*)': ")
    assert "\x1b" not in child.match.group(1) and "%1B" in child.match.group(1)
    child.sendcontrol("c")
    child.close()


def test_three_wrong_passphrases_in_a_push_name_reset_and_nothing_else_asks(
    terminal_user: tuple[User, Path, str, str],
) -> None:
    user, work, name, token = terminal_user
    host = user.run(["git", "remote", "get-url", "origin"], cwd=work).stdout.decode()
    host = host.split("://", 1)[1].split("/", 1)[0]
    stored = f"protocol=http\nhost={host}\nusername={name}\npassword={token}\n"
    done = user.helper(
        "store", stored.encode(), env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": PASSPHRASE}
    )
    assert done.returncode == 0
    keyring = user.store_dir / "keyring.cfg"
    before = keyring.read_bytes()
    child = push(user, work, "locked")
    for _ in range(3):
        child.expect("Passphrase for")
        child.sendline("wrong")
    child.expect("3 tries")
    rest = str(child.after) + finish(child)
    assert "git-credential-sagemaker reset" in rest, rest
    # git's own prompts never follow, nor a fourth passphrase for its erase or store.
    assert "Username for" not in rest and "Password for" not in rest, rest
    assert "Passphrase for" not in rest, rest
    assert child.exitstatus != 0
    assert keyring.read_bytes() == before
