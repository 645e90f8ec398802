"""Knowing the token: GitHub's answer about scopes and expiry, checked on first store.

A loopback fake of GitHub's REST root answers with the real header shapes; the helper is
pointed at it with `credential.<url>.sagemakerApiUrl`, the one setting that can. Each
scenario runs through `login` and through a real `git push` whose first store checks.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakegithub import FakeGitHub, Scenario, classic, expiring, fine_grained, silent, trickling
from gitserver import GitServer
from support import PASSPHRASE, User

from git_credential_sagemaker.credential import github, web
from git_credential_sagemaker.credential.store import Store


@pytest.fixture
def api() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake


def in_days(days: float) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)


def utc_header(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def offset_header(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone(dt.timedelta(hours=2))).strftime("%Y-%m-%d %H:%M:%S %z")


def point_at(user: User, url: str, api_url: str) -> None:
    """credential.<url>.sagemakerApiUrl in the user's global config."""
    done = user.run(["git", "config", "--global", f"credential.{url}.sagemakerApiUrl", api_url])
    assert done.returncode == 0, done.stderr


def login(user: User, url: str, token: str) -> tuple[int, str, str]:
    program = user.root / f"ask-{secrets.token_hex(3)}.sh"
    program.write_text(f"#!/bin/sh\necho '{token}'\n")
    program.chmod(0o700)
    done = user.run(
        ["git-credential-sagemaker", "login", url, "--username", "alice"],
        env={"GIT_ASKPASS": str(program), "GIT_TERMINAL_PROMPT": None},
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def listed(user: User) -> str:
    done = user.run(["git-credential-sagemaker", "list"])
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


LOGIN_URL = "https://git.example.test"


# --- through login --------------------------------------------------------------------------


def test_login_records_a_classic_tokens_scopes(user: User, api: FakeGitHub) -> None:
    api.add("classic", "ghp_classic1", classic("repo"))
    point_at(user, LOGIN_URL, api.url)
    code, _, err = login(user, LOGIN_URL, "ghp_classic1")
    assert code == 0, err
    assert "scopes" not in err  # repo is all pushing needs: no warning
    assert api.requests == [("/", "classic")]
    table = listed(user)
    assert "classic: repo" in table and "ghp_classic1" not in table


def test_login_warns_of_scopes_pushing_does_not_need(user: User, api: FakeGitHub) -> None:
    api.add("excess", "ghp_excess1", classic("repo", "delete_repo", "admin:org"))
    point_at(user, LOGIN_URL, api.url)
    code, _, err = login(user, LOGIN_URL, "ghp_excess1")
    assert code == 0, err
    warning = [line for line in err.splitlines() if "doesn't need" in line]
    assert len(warning) == 1
    assert "(delete_repo, admin:org)" in warning[0]  # repo itself is not named
    assert "fine-grained" in warning[0]  # the least-scope alternative


def test_login_records_a_fine_grained_token(user: User, api: FakeGitHub) -> None:
    api.add("fine", "github_pat_fine1", fine_grained())
    point_at(user, LOGIN_URL, api.url)
    code, _, err = login(user, LOGIN_URL, "github_pat_fine1")
    assert code == 0, err
    assert "fine-grained" in listed(user)


@pytest.mark.parametrize("header", [utc_header, offset_header])
def test_login_records_an_expiry_from_either_header_format(
    user: User, api: FakeGitHub, header: object
) -> None:
    when = in_days(3).replace(microsecond=0)
    api.add("soon", "ghp_soon1", expiring(header(when)))  # type: ignore[operator]
    point_at(user, LOGIN_URL, api.url)
    code, _, err = login(user, LOGIN_URL, "ghp_soon1")
    assert code == 0, err
    assert "expires on" in err and ("in 2 days" in err or "in 3 days" in err)
    got = user.helper("get", b"protocol=https\nhost=git.example.test\n")
    assert f"password_expiry_utc={int(when.timestamp())}".encode() in got.stdout
    assert when.strftime("%Y-%m-%d") in listed(user)


def test_login_refuses_a_token_github_rejects(user: User, api: FakeGitHub) -> None:
    api.add("revoked", "ghp_revoked1", Scenario(401))
    point_at(user, LOGIN_URL, api.url)
    code, _, err = login(user, LOGIN_URL, "ghp_revoked1")
    assert code == 1
    assert "GitHub rejected this token" in err and "mistyped or revoked" in err
    assert len(err.splitlines()) == 1 and "ghp_revoked1" not in err
    assert "no tokens stored" in listed(user)


def test_login_stores_the_token_when_github_errs(user: User, api: FakeGitHub) -> None:
    api.add("broken", "ghp_broken1", Scenario(500))
    point_at(user, LOGIN_URL, api.url)
    code, _, err = login(user, LOGIN_URL, "ghp_broken1")
    assert code == 0, err
    assert "not checked" in listed(user)


def test_login_stores_the_token_when_github_never_answers(user: User) -> None:
    with silent() as url:
        point_at(user, LOGIN_URL, url)
        code, _, err = login(user, LOGIN_URL, "ghp_silent1")
    assert code == 0, err
    assert "not checked" in listed(user)


def test_an_api_that_trickles_its_answer_holds_up_neither_login_nor_a_store(user: User) -> None:
    """One byte a second keeps every read alive: only a deadline for the whole check ends it.

    Without one, each command here waits for the fake, which never finishes; the commands'
    own timeout (support.COMMAND_TIMEOUT) then fails the test.
    """
    helper = ["git", "-c", "credential.helper=", "-c", "credential.helper=sagemaker"]
    with trickling() as url:
        point_at(user, LOGIN_URL, url)
        code, _, err = login(user, LOGIN_URL, "ghp_trickled1")
        assert code == 0, err
        approved = user.run(
            [*helper, "credential", "approve"],
            input=b"url=https://git.example.test\nusername=bob\npassword=ghp_trickled2\n",
        )
        assert approved.returncode == 0 and approved.stderr == b"", approved.stderr
        checked = user.run(["git-credential-sagemaker", "check"])
    assert checked.stdout.decode().count("not checked (no answer in time)") == 2, checked.stdout
    table = listed(user)
    assert table.count("not checked") == 2 and "ghp_trickled" not in table


def test_other_hosts_are_never_contacted(user: User, api: FakeGitHub) -> None:
    api.add("classic", "ghp_other1", classic("repo"))
    code, _, err = login(user, "https://gitlab.example.test", "ghp_other1")
    assert code == 0, err
    assert api.requests == []
    assert "-" in listed(user)


# --- through a real push --------------------------------------------------------------------


def push_with(user: User, git_server: GitServer, api_url: str, token: str) -> tuple[str, bytes]:
    """Clone, commit and push with a token typed through askpass: git's store checks it."""
    name = f"u{secrets.token_hex(3)}"
    git_server.allow(name, token)
    url = git_server.create_repo(f"check-{name}")
    point_at(user, f"http://127.0.0.1:{git_server.port}", api_url)
    program = user.root / f"askpass-{name}.sh"
    program.write_text(
        f'#!/bin/sh\ncase "$1" in\n  Username*) echo {name} ;;\n  *) echo {token} ;;\nesac\n'
    )
    program.chmod(0o700)
    env = {"GIT_ASKPASS": str(program)}
    work = user.root / f"work-{name}"
    cloned = user.git("clone", "-q", url, str(work), env=env)
    assert cloned.returncode == 0, cloned.stderr
    (work / "a.txt").write_text("a")
    assert user.run(["git", "add", "a.txt"], cwd=work).returncode == 0
    assert user.run(["git", "commit", "-qm", "a"], cwd=work).returncode == 0
    pushed = user.git("push", "-q", "origin", "HEAD", cwd=work, env=env)
    assert pushed.returncode == 0, pushed.stderr
    return name, cloned.stderr + pushed.stderr


def stored_for(user: User, git_server: GitServer) -> bytes:
    return user.helper("get", b"protocol=http\nhost=127.0.0.1:%d\n" % git_server.port).stdout


SCENARIOS = {
    "classic": (classic("repo"), "classic: repo", True),
    "excess": (classic("repo", "delete_repo", "admin:org"), "delete_repo", True),
    "fine-grained": (fine_grained(), "fine-grained", True),
    "expiring": (expiring(utc_header(in_days(3))), "days", True),
    "expiring-offset": (expiring(offset_header(in_days(3))), "days", True),
    "rejected": (Scenario(401), "GitHub rejected this token", False),
    "server-error": (Scenario(500), "not checked", True),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_push_checks_the_token_on_its_first_store(
    user: User, git_server: GitServer, api: FakeGitHub, scenario: str
) -> None:
    answer, expected, kept = SCENARIOS[scenario]
    token = (
        f"ghp_{secrets.token_hex(10)}"
        if scenario != "fine-grained"
        else (f"github_pat_{secrets.token_hex(10)}")
    )
    api.add(scenario, token, answer)
    _, said = push_with(user, git_server, api.url, token)
    # One request, on the first store; a refused token is typed and checked again next time.
    assert api.requests == [("/", scenario)] * (1 if kept else 2)
    assert (b"password=" + token.encode() in stored_for(user, git_server)) is kept
    shown = said.decode() + listed(user)
    assert expected in shown
    assert token not in shown and PASSPHRASE not in shown
    # The next get and store (a second push) make no request.
    before = len(api.requests)
    assert user.helper("get", b"protocol=http\nhost=127.0.0.1:%d\n" % git_server.port)
    assert len(api.requests) == before


def test_a_push_stores_the_token_when_github_never_answers(
    user: User, git_server: GitServer
) -> None:
    token = f"ghp_{secrets.token_hex(10)}"
    with silent() as url:
        push_with(user, git_server, url, token)
    assert b"password=" + token.encode() in stored_for(user, git_server)
    assert "not checked" in listed(user)


# --- check and doctor -----------------------------------------------------------------------


def test_check_and_doctor_find_a_revoked_token(user: User, api: FakeGitHub) -> None:
    api.add("classic", "ghp_later_revoked", classic("repo"))
    point_at(user, LOGIN_URL, api.url)
    assert login(user, LOGIN_URL, "ghp_later_revoked")[0] == 0
    api.add("revoked", "ghp_later_revoked", Scenario(401))
    checked = user.run(["git-credential-sagemaker", "check"])
    assert checked.returncode == 1
    out = checked.stdout.decode()
    assert "GitHub rejected the token for git.example.test" in out
    assert "git-credential-sagemaker login git.example.test --username alice" in out
    doctor = user.run(["git-credential-sagemaker", "doctor"], cwd=user.home)
    assert "GitHub rejected the token for git.example.test" in doctor.stdout.decode()
    assert "ghp_later_revoked" not in checked.stdout.decode() + doctor.stdout.decode()


def test_check_reports_an_expiring_token_and_records_when(user: User, api: FakeGitHub) -> None:
    api.add("classic", "ghp_will_expire", classic("repo"))
    point_at(user, LOGIN_URL, api.url)
    assert login(user, LOGIN_URL, "ghp_will_expire")[0] == 0
    api.add("soon", "ghp_will_expire", expiring(utc_header(in_days(2)), "repo"))
    checked = user.run(["git-credential-sagemaker", "check", "git.example.test"])
    assert checked.returncode == 1
    assert "expires in 1 days" in checked.stdout.decode() or "expires in 2 days" in (
        checked.stdout.decode()
    )
    assert time.strftime("%Y-%m-%d", time.gmtime()) in listed(user)


# --- the pure parts -------------------------------------------------------------------------


def test_api_bases_by_host_name() -> None:
    assert github.default_base("github.com") == "https://api.github.com"
    assert github.default_base("github.example.com") == "https://github.example.com/api/v3"
    assert github.default_base("octo.ghe.com") == "https://api.octo.ghe.com"
    assert github.default_base("gitlab.com") is None


def test_the_token_goes_only_over_https_or_to_loopback() -> None:
    assert web.safe_base("https://api.github.com/") == "https://api.github.com"
    assert web.safe_base("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert web.safe_base("http://[::1]:8080") == "http://[::1]:8080"
    for unsafe in ("http://api.github.com", "http://10.0.0.1", "ftp://127.0.0.1", "nonsense"):
        assert web.safe_base(unsafe) is None
    result = github.check("ghp_x", "http://192.0.2.1:9")  # refused before any connection
    assert result.status == github.NOT_CHECKED


def test_expiry_header_formats_and_token_kinds() -> None:
    assert github.parse_expiry("2021-09-03 02:34:04 UTC") == 1630636444
    assert github.parse_expiry("2021-09-03 04:34:04 +0200") == 1630636444
    assert github.parse_expiry("soon") is None
    assert [github.kind_of(t) for t in ("ghp_1", "github_pat_1", "gho_1", "ghu_1", "x")] == [
        "classic",
        "fine-grained",
        "OAuth",
        "GitHub App user",
        "unknown",
    ]


def test_a_store_of_the_same_token_keeps_its_expiry(user: User) -> None:
    first = (
        b"protocol=https\nhost=github.com\nusername=a\npassword=p\npassword_expiry_utc=4102444800\n"
    )
    assert user.helper("store", first).returncode == 0
    # git before 2.41 sends the same token back without the expiry
    assert user.helper("store", b"protocol=https\nhost=github.com\nusername=a\npassword=p\n")
    got = user.helper("get", b"protocol=https\nhost=github.com\n").stdout
    assert b"password_expiry_utc=4102444800" in got
    assert Path(user.store_dir / "keyring.cfg").exists()


def test_an_expired_token_is_named_and_the_same_token_typed_again_is_checked_anew(
    user: User, git_server: GitServer, api: FakeGitHub
) -> None:
    token = f"ghp_{secrets.token_hex(10)}"
    api.add("classic", token, classic("repo"))
    name, _ = push_with(user, git_server, api.url, token)
    host = f"127.0.0.1:{git_server.port}"
    # The stored token expired (its date passed); nothing else about it changed.
    ring = Store(user.store_dir, passphrase=lambda new: PASSPHRASE)
    key = {"protocol": "http", "host": host, "path": None, "username": name}
    ring.put(key, {"password": token, "password_expiry_utc": "1000000000"})
    assert stored_for(user, git_server) == b""

    work = user.root / f"work-{name}"
    (work / "b.txt").write_text("b")
    assert user.run(["git", "add", "b.txt"], cwd=work).returncode == 0
    assert user.run(["git", "commit", "-qm", "b"], cwd=work).returncode == 0
    env = {"GIT_ASKPASS": str(user.root / f"askpass-{name}.sh")}
    before = len(api.requests)
    pushed = user.git("push", "-q", "origin", "HEAD", cwd=work, env=env)
    assert pushed.returncode == 0, pushed.stderr
    said = pushed.stderr.decode()
    assert f"the token for {host} ({name}) expired on 2001-09-09" in said, said
    assert f"git-credential-sagemaker login http://{host} --username {name}" in said
    # Typed again, the same token is checked again, and its old date is gone.
    assert len(api.requests) == before + 1
    answer = stored_for(user, git_server)
    assert b"password=" + token.encode() in answer
    assert b"1000000000" not in answer


def test_a_token_checked_while_locked_keeps_its_check_through_the_inbox(
    user: User, api: FakeGitHub
) -> None:
    api.add("classic", "ghp_whileLocked1", classic("repo"))
    api.add("older", "ghp_old", fine_grained())
    point_at(user, LOGIN_URL, api.url)
    host = LOGIN_URL.split("://")[1]
    user.approve(f"protocol=https\nhost={host}\nusername=old\npassword=ghp_old\n")
    locked = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
    request = f"protocol=https\nhost={host}\nusername=alice\npassword=ghp_whileLocked1\n"

    done = user.helper("store", request.encode(), env=locked)

    assert done.returncode == 0, done.stderr
    assert api.requests.count(("/", "classic")) == 1  # asked once, while locked
    assert "classic: repo" not in listed(user)  # waiting in the inbox, sealed
    unlocked = user.helper("get", f"protocol=https\nhost={host}\nusername=alice\n".encode())
    assert b"password=ghp_whileLocked1" in unlocked.stdout  # the passphrase took it in
    assert "classic: repo" in listed(user)
    assert api.requests.count(("/", "classic")) == 1  # the check came with it
