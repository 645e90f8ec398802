"""Two accounts stored for one host, through real pushes to the loopback server.

git names an account when the remote URL or git config does (`setup --account` writes it in
the repository); with none named, the first stored answers and one line says so, and at a
terminal the user picks one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pexpect
import pytest
from gitserver import GitServer
from support import PASSPHRASE, Askpass, User, helped_clone

APP = "git-credential-sagemaker"


class Team(NamedTuple):
    user: User
    server: GitServer
    work: Path
    alice: str  # a personal account, stored first
    bob: str  # a work account
    host: str  # 127.0.0.1:PORT


@pytest.fixture
def team(user: User, git_server: GitServer) -> Iterator[Team]:
    alice, bob = f"alice{secrets.token_hex(3)}", f"bob{secrets.token_hex(3)}"
    host = f"127.0.0.1:{git_server.port}"
    for name in (alice, bob):
        token = f"ghp_{name}"
        git_server.allow(name, token)
        user.approve(f"protocol=http\nhost={host}\nusername={name}\npassword={token}\n")
    url = git_server.create_repo(f"shared-{alice}")
    work = user.root / "work"
    helped_clone(user, git_server.repo_path(f"shared-{alice}"), url, work)
    yield Team(user, git_server, work, alice, bob, host)


def commit(team: Team, name: str) -> None:
    """A commit of a new file (without hooks: setup installs them, and this is about pushes)."""
    (team.work / name).write_text(name)
    assert team.user.run(["git", "add", name], cwd=team.work).returncode == 0
    assert team.user.run(["git", "commit", "-qnm", name], cwd=team.work).returncode == 0


def pushed_as(team: Team, **env: str | None) -> tuple[set[str], str]:
    """Push a new commit: (the accounts the server saw succeed, what git printed)."""
    team.server.clear_records()
    commit(team, f"change-{secrets.token_hex(2)}")
    done = team.user.run(["git", "push", "-q", "origin", "HEAD"], cwd=team.work, env=env)
    said = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, said
    return {a.username for a in team.server.auth_attempts if a.ok}, said


def test_with_none_named_the_first_answers_and_one_line_says_how_to_choose(team: Team) -> None:
    used, said = pushed_as(team)

    assert used == {team.alice}
    [line] = [line for line in said.splitlines() if "has tokens for" in line]
    assert f"{team.host} has tokens for {team.alice}, {team.bob}" in line
    assert f"so {team.alice} was used" in line
    assert f"{APP} setup --account {team.bob}" in line
    assert f"https://{team.bob}@{team.host}/" in line
    assert "ghp_" not in said


def test_setup_account_binds_the_repository_and_list_and_status_say_so(team: Team) -> None:
    status = team.user.run([APP, "status"], cwd=team.work).stdout.decode()
    assert f"names no account, so {team.alice}, the first of 2, answers" in status

    done = team.user.run([APP, "setup", "--account", team.bob], cwd=team.work)

    assert done.returncode == 0, done.stderr
    assert f"credential.http://{team.host}.username {team.bob!r}" in done.stdout.decode()
    used, said = pushed_as(team)
    assert used == {team.bob}
    assert "has tokens for" not in said
    for command in ("list", "status"):
        out = team.user.run([APP, command], cwd=team.work).stdout.decode()
        assert f"this repository (http://{team.host}) uses {team.bob}" in out, out
    again = team.user.run([APP, "setup", "--account", team.bob], cwd=team.work)
    assert f"{team.host}.username" not in again.stdout.decode()  # nothing left to change


def test_an_account_in_the_remote_url_is_used(team: Team) -> None:
    url = f"http://{team.bob}@{team.host}/shared-{team.alice}.git"
    assert team.user.run(["git", "remote", "set-url", "origin", url], cwd=team.work).returncode == 0

    used, said = pushed_as(team)

    assert used == {team.bob}
    assert "has tokens for" not in said


def test_at_a_terminal_the_user_picks_the_account(team: Team) -> None:
    # Unlocked, so the agent answers and the helper asks at the terminal itself.
    askpass = Askpass(team.user.root, "unused", PASSPHRASE)
    team.user.env.pop("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE")
    done = team.user.run(
        [APP, "unlock"], env={"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None}
    )
    assert done.returncode == 0, done.stderr
    team.server.clear_records()
    commit(team, "picked.txt")
    env = {k: v for k, v in team.user.env.items() if k != "GIT_TERMINAL_PROMPT"}
    child = pexpect.spawn(
        "git",
        ["push", "-q", "origin", "HEAD"],
        cwd=str(team.work),
        env=env,
        timeout=30,
        encoding="utf-8",
    )

    child.expect(rf"Account for 127\.0\.0\.1:\d+ \({team.alice}, {team.bob}\) \[{team.alice}\]: ")
    child.sendline(team.bob)
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0, child.before
    assert {a.username for a in team.server.auth_attempts if a.ok} == {team.bob}
    assert f"so {team.bob} was used" in str(child.before)


def test_a_bad_account_binding_is_one_line(team: Team, tmp_path: Path) -> None:
    bare = tmp_path / "no-remote"
    assert team.user.run(["git", "init", "-q", str(bare)]).returncode == 0

    done = team.user.run([APP, "setup", "--account", team.bob], cwd=bare)
    assert done.returncode == 1
    assert done.stderr.decode().count("\n") == 1
    assert "has no remote to bind an account to" in done.stderr.decode()

    done = team.user.run([APP, "setup", "--no-repo", "--account", team.bob], cwd=team.work)
    assert done.returncode != 0
    assert "--account binds a repository" in done.stderr.decode()
