"""Real `git credential fill/approve/reject` through the helper, as git drives it on a push."""

from __future__ import annotations

import socket

from gits import with_git
from gitserver import GitServer
from support import Askpass, User

GH = "protocol=https\nhost=github.com\n"


def nothing_stored(user: User, request: str) -> bool:
    done = user.helper("get", request.encode())
    assert done.returncode == 0 and done.stderr == b""
    return done.stdout == b""


def test_fill_returns_what_approve_stored(user: User) -> None:
    user.approve(GH + "username=alice\npassword=ghp_alice\n")
    assert user.fill(GH) == {
        "protocol": "https",
        "host": "github.com",
        "username": "alice",
        "password": "ghp_alice",
    }


def test_matching_on_protocol_host_and_port(user: User) -> None:
    user.approve("protocol=https\nhost=git.example.com:8443\nusername=u\npassword=p1\n")
    assert user.fill("protocol=https\nhost=git.example.com:8443\n")["password"] == "p1"
    assert nothing_stored(user, "protocol=https\nhost=git.example.com\n")
    assert nothing_stored(user, "protocol=http\nhost=git.example.com:8443\n")


def test_matching_on_path_only_when_git_sends_it(user: User) -> None:
    with_path = ["-c", "credential.useHttpPath=true"]
    done = user.git(
        *with_path,
        "credential",
        "approve",
        input=(GH + "path=org/a.git\nusername=u\npassword=pa\n").encode(),
    )
    assert done.returncode == 0
    user.git(
        *with_path,
        "credential",
        "approve",
        input=(GH + "path=org/b.git\nusername=u\npassword=pb\n").encode(),
    )
    for repo, token in (("a", "pa"), ("b", "pb")):
        out = user.git(
            *with_path,
            "credential",
            "fill",
            input=f"url=https://github.com/org/{repo}.git\n".encode(),
        )
        assert f"password={token}\n" in out.stdout.decode()
    # Without useHttpPath git sends no path, and any stored path matches.
    assert user.fill(GH)["password"] in ("pa", "pb")


def test_store_overwrites_the_same_entry(user: User) -> None:
    user.approve(GH + "username=alice\npassword=old\n")
    user.approve(GH + "username=alice\npassword=new\n")
    assert user.fill(GH + "username=alice\n")["password"] == "new"
    text = (user.store_dir / "keyring.cfg").read_text()
    assert text.count("ualice =") == 1


def test_several_users_on_one_host(user: User) -> None:
    user.approve(GH + "username=alice\npassword=pa\n")
    user.approve(GH + "username=bob\npassword=pb\n")
    user.approve(GH + "username=Alice\npassword=pA\n")
    assert user.fill(GH + "username=alice\n")["password"] == "pa"
    assert user.fill(GH + "username=bob\n")["password"] == "pb"
    assert user.fill(GH + "username=Alice\n")["password"] == "pA"


def test_empty_username_round_trips(user: User) -> None:
    user.helper("store", (GH + "username=\npassword=anon\n").encode())
    out = user.helper("get", (GH + "username=\n").encode())
    assert out.stdout == b"username=\npassword=anon\n"
    assert nothing_stored(user, GH + "username=someone\n")


def test_reject_erases_every_match(user: User) -> None:
    user.approve(GH + "username=alice\npassword=pa\n")
    user.approve(GH + "username=bob\npassword=pb\n")
    user.approve("protocol=https\nhost=gitlab.com\nusername=alice\npassword=pg\n")
    done = user.helper("erase", GH.encode())
    assert done.returncode == 0 and done.stderr == b""
    assert nothing_stored(user, GH)
    assert user.fill("protocol=https\nhost=gitlab.com\n")["password"] == "pg"


def test_reject_with_a_stale_password_keeps_the_fresh_one(user: User) -> None:
    user.approve(GH + "username=alice\npassword=fresh\n")
    user.reject(GH + "username=alice\npassword=stale\n")  # silent: nothing was removed
    assert user.fill(GH)["password"] == "fresh"
    done = user.git(
        "credential", "reject", input=(GH + "username=alice\npassword=fresh\n").encode()
    )
    # Plumbing stays silent, as git's t0303 asks; a push says so (test_push).
    assert (done.returncode, done.stderr) == (0, b"")
    assert nothing_stored(user, GH)


def test_ephemeral_credentials_are_never_stored(user: User) -> None:
    user.helper("store", (GH + "username=a\npassword=p\nephemeral=1\n").encode())
    assert nothing_stored(user, GH)


def test_expiry_and_refresh_token_round_trip(user: User) -> None:
    stored = (
        GH + "username=alice\npassword=p\npassword_expiry_utc=4102444800\n"
        "oauth_refresh_token=rt-123\n"
    )
    assert user.helper("store", stored.encode()).returncode == 0
    out = user.helper("get", GH.encode()).stdout.decode()
    assert "password_expiry_utc=4102444800\n" in out
    assert "oauth_refresh_token=rt-123\n" in out


def test_expiry_and_refresh_token_through_git(user: User) -> None:
    with_git(user, "newest")  # git learned password_expiry_utc and oauth_refresh_token in 2.41
    user.approve(
        GH + "username=alice\npassword=p\npassword_expiry_utc=4102444800\n"
        "oauth_refresh_token=rt-123\n"
    )
    filled = user.fill(GH)
    assert filled["password_expiry_utc"] == "4102444800"
    assert filled["oauth_refresh_token"] == "rt-123"


def test_authtype_credential_round_trip(user: User) -> None:
    user.helper("store", (GH + "capability[]=authtype\nauthtype=Bearer\ncredential=tok\n").encode())
    plain = user.helper("get", GH.encode()).stdout.decode()
    assert "credential=" not in plain
    asked = user.helper("get", ("capability[]=authtype\n" + GH).encode()).stdout.decode()
    assert "capability[]=authtype\n" in asked and "authtype=Bearer\ncredential=tok\n" in asked


def test_large_wwwauth_header_with_host_inside(user: User) -> None:
    user.approve(GH + "username=alice\npassword=pa\n")
    header = 'Basic realm="host=evil.example.com ' + "x" * 1024 + '"'
    request = GH + f"wwwauth[]={header}\n"
    assert user.fill(request)["password"] == "pa"
    assert user.fill(request)["host"] == "github.com"
    user.approve(GH + f"username=bob\npassword=pb\nwwwauth[]={header}\n")
    assert "evil" not in (user.store_dir / "keyring.cfg").read_text()


def test_invalid_request_stores_nothing_and_prints_nothing(user: User) -> None:
    done = user.helper("store", GH.encode() + b"username=a\rb\npassword=p\n")
    assert done.returncode == 1 and done.stdout == b""
    assert b"invalid request" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (user.store_dir / "keyring.cfg").exists()


def test_store_needs_protocol_host_and_a_secret(user: User) -> None:
    user.helper("store", b"host=github.com\nusername=a\npassword=p\n")
    user.helper("store", GH.encode() + b"username=a\n")
    assert not (user.store_dir / "keyring.cfg").exists()


def test_capability_and_unknown_operations(user: User) -> None:
    done = user.helper("capability", b"")
    assert done.stdout == b"version 0\ncapability authtype\n"
    other = user.helper("frobnicate", GH.encode() + b"username=a\npassword=p\n")
    assert (other.returncode, other.stdout, other.stderr) == (0, b"", b"")


def test_normal_operation_is_silent_on_stderr(user: User) -> None:
    for op, req in (
        ("store", GH + "username=a\npassword=p\n"),
        ("get", GH),
        ("erase", GH + "username=a\npassword=stale\n"),  # a stale token removes nothing
        ("get", GH),
        ("erase", GH + "username=a\n"),  # no password: not a rejected token, just erased
        ("get", GH),
    ):
        done = user.helper(op, req.encode())
        assert done.returncode == 0 and done.stderr == b"", (op, done.stderr)


def test_get_warns_once_when_the_token_expires_within_a_week(user: User) -> None:
    import time

    soon = int(time.time()) + 3 * 86400
    user.helper(
        "store", (GH + f"username=alice\npassword=p\npassword_expiry_utc={soon}\n").encode()
    )
    first = user.helper("get", GH.encode())
    assert f"password_expiry_utc={soon}".encode() in first.stdout
    assert b"expires on" in first.stderr and b"login github.com" in first.stderr
    second = user.helper("get", GH.encode())
    assert second.stdout == first.stdout and second.stderr == b""


def test_login_records_the_expiry_and_list_shows_it_without_secrets(user: User) -> None:
    askpass = user.root / "ask.sh"
    askpass.write_text("#!/bin/sh\necho ghp_listedtoken\n")
    askpass.chmod(0o700)
    env = {"GIT_ASKPASS": str(askpass), "GIT_TERMINAL_PROMPT": None}
    done = user.run(
        [
            "git-credential-sagemaker",
            "login",
            "github.com",
            "--username",
            "alice",
            "--expires",
            "2031-01-31",
        ],
        env=env,
    )
    assert done.returncode == 0, done.stderr
    listed = user.run(["git-credential-sagemaker", "list"]).stdout.decode()
    assert "https://github.com" in listed and "alice" in listed and "2031-01-31" in listed
    assert "ghp_listedtoken" not in listed
    assert user.fill(GH)["password"] == "ghp_listedtoken"
    out = user.run(["git-credential-sagemaker", "logout", "github.com"])
    assert out.returncode == 0 and nothing_stored(user, GH)


def test_login_with_host_and_port_says_https_was_assumed_or_names_the_http_url(
    user: User, git_server: GitServer
) -> None:
    askpass = Askpass(user.root, "alice", "ghp_typed")
    env = {"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None}
    host = f"127.0.0.1:{git_server.port}"  # answers plain http only

    refused = user.run(["git-credential-sagemaker", "login", host], env=env)

    assert refused.returncode == 1 and refused.stderr.count(b"\n") == 1
    assert (
        f"{host} answers plain http, not https; log in with the URL: "
        f"git-credential-sagemaker login http://{host}"
    ).encode() in refused.stderr
    assert askpass.prompts == []  # said before anything was asked

    with socket.socket() as probe:  # a port nobody answers on: the assumption stands
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    done = user.run(["git-credential-sagemaker", "login", closed], env=env)
    assert done.returncode == 0, done.stderr
    assert f"no scheme given, so https://{closed} is assumed".encode() in done.stderr
    assert user.fill(f"protocol=https\nhost={closed}\n")["password"] == "ghp_typed"
