"""The helper beside git's other credential settings and helpers, through real git: this
machine's git and the newest (see gits.py).

- credential.useHttpPath, which SageMaker's images set for CodeCommit: a token saved for the
  host answers every repository there, an entry for one path still wins for that path, and
  one for another path never answers (git's t0303 rule);
- a generator helper after ours (git-credential-oauth and the like): an expired token's
  refresh token reaches it, a stale password never does, and quit=1 never silences it;
- git 2.46's state[] and continue, and ephemeral authtype credentials.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from gits import KINDS, with_git
from gitserver import GitServer
from instance import Instance
from support import IDENTITY, PASSPHRASE, Askpass, User

GH = "protocol=https\nhost=github.com\n"
HTTP_PATH = ("-c", "credential.useHttpPath=true")
IN_A_KERNEL = {"JPY_PARENT_PID": "1", "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}


@pytest.fixture(params=KINDS)
def git_version(request: pytest.FixtureRequest, user: User) -> tuple[int, ...]:
    return with_git(user, request.param)


class Generator:
    """A helper after ours that mints tokens, as git-credential-oauth does: it logs what git
    sends it and answers `get` with a fresh token."""

    def __init__(self, root: Path) -> None:
        self.log = root / "generator.log"
        self.program = root / "git-credential-generator"
        self.program.write_text(
            "#!/bin/sh\n"
            f'{{ echo "op=$1"; cat; echo "--"; }} >> "{self.log}"\n'
            'if [ "$1" = get ]; then echo username=minted; echo password=gho_minted; fi\n'
        )
        self.program.chmod(0o700)

    @property
    def requests(self) -> list[dict[str, str]]:
        """Each request it got, as key=value pairs (`op` is the operation)."""
        text = self.log.read_text() if self.log.exists() else ""
        found = []
        for block in text.split("--\n"):
            lines = [line for line in block.splitlines() if "=" in line]
            if lines:
                found.append(dict(line.split("=", 1) for line in lines))
        return found

    def asked(self) -> list[dict[str, str]]:
        return [r for r in self.requests if r["op"] == "get"]


def chain(generator: Generator) -> tuple[str, ...]:
    """git config that runs ours, then the generator."""
    return ("-c", f"credential.helper={generator.program}")


def fill(user: User, request: str, *config: str, **env: str | None) -> dict[str, str]:
    done = user.git(*config, "credential", "fill", input=request.encode(), env=env)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.decode().splitlines())


def approve(user: User, request: str, *config: str) -> None:
    done = user.git(*config, "credential", "approve", input=request.encode())
    assert done.returncode == 0 and done.stderr == b"", done.stderr


def helper_get(user: User, request: str) -> dict[str, str]:
    done = user.helper("get", request.encode())
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.decode().splitlines())


# -- credential.useHttpPath ---------------------------------------------------------------------


def test_a_token_saved_for_the_host_answers_every_repository_with_use_http_path(
    user: User, git_version: tuple[int, ...]
) -> None:
    approve(user, GH + "username=alice\npassword=ghp_host\n")  # `login`, or a push without paths

    for repo in ("org/a.git", "org/b.git", "other/c"):
        filled = fill(user, f"url=https://github.com/{repo}\n", *HTTP_PATH)
        assert filled["password"] == "ghp_host", repo
        assert filled["path"] == repo


def test_an_entry_for_a_path_wins_there_and_never_answers_another_path(
    user: User, git_version: tuple[int, ...]
) -> None:
    approve(user, GH + "username=alice\npassword=ghp_host\n")
    approve(user, GH + "path=org/private.git\nusername=alice\npassword=ghp_one_repo\n", *HTTP_PATH)
    # git's t0303: with nothing for the host, an entry for one path answers no other path.
    approve(
        user, "protocol=https\nhost=path.tld\npath=foo.git\nusername=u\npassword=p\n", *HTTP_PATH
    )

    assert fill(user, "url=https://github.com/org/private.git\n", *HTTP_PATH)["password"] == (
        "ghp_one_repo"
    )
    assert fill(user, "url=https://github.com/org/public.git\n", *HTTP_PATH)["password"] == (
        "ghp_host"
    )
    nothing = user.helper("get", b"protocol=https\nhost=path.tld\npath=bar.git\n")
    assert (nothing.returncode, nothing.stdout) == (0, b"")
    assert helper_get(user, "protocol=https\nhost=path.tld\npath=foo.git\n")["password"] == "p"


def test_a_push_with_a_path_keeps_no_copy_of_the_hosts_token(
    user: User, git_version: tuple[int, ...]
) -> None:
    approve(user, GH + "username=alice\npassword=ghp_host\n")

    # What git stores after each push with useHttpPath on: the same token, with the path.
    for repo in ("org/a.git", "org/b.git"):
        approve(user, GH + f"path={repo}\nusername=alice\npassword=ghp_host\n", *HTTP_PATH)

    listed = user.run(["git-credential-sagemaker", "list"]).stdout.decode()
    assert "org/a.git" not in listed and "org/b.git" not in listed, listed
    # A different token for one path is that path's own.
    approve(user, GH + "path=org/a.git\nusername=alice\npassword=ghp_other\n", *HTTP_PATH)
    assert "org/a.git" in user.run(["git-credential-sagemaker", "list"]).stdout.decode()


def test_a_rejected_host_token_is_erased_through_any_repository(
    user: User, git_version: tuple[int, ...]
) -> None:
    approve(user, GH + "username=alice\npassword=ghp_host\n")
    # A stale password sent for a path leaves the host's token alone...
    done = user.git(
        *HTTP_PATH,
        "credential",
        "reject",
        input=(GH + "path=org/a.git\nusername=alice\npassword=ghp_old\n").encode(),
    )
    assert done.returncode == 0
    assert helper_get(user, GH)["password"] == "ghp_host"

    # ...and the very token the host refused goes (silently: `git credential` is plumbing).
    done = user.git(
        *HTTP_PATH,
        "credential",
        "reject",
        input=(GH + "path=org/a.git\nusername=alice\npassword=ghp_host\n").encode(),
    )

    assert (done.returncode, done.stderr) == (0, b"")
    assert user.helper("get", GH.encode()).stdout == b""


# -- a generator after ours ---------------------------------------------------------------------


def store_expiring(user: User, seconds: int) -> int:
    """Store a token with a refresh token, expiring `seconds` from now; its expiry."""
    expiry = int(time.time()) + seconds
    done = user.helper(
        "store",
        (
            GH + f"username=alice\npassword=gho_stale\npassword_expiry_utc={expiry}\n"
            "oauth_refresh_token=ghr_refresh\n"
        ).encode(),
    )
    assert done.returncode == 0, done.stderr
    return expiry


def wait_past(expiry: int) -> None:
    while time.time() <= expiry + 0.1:
        time.sleep(0.1)


@pytest.mark.parametrize("unlocked", [False, True], ids=["opened-by-the-helper", "the-agent"])
def test_an_expired_token_hands_its_refresh_token_to_the_helper_after_ours(
    user: User, tmp_path: Path, git_version: tuple[int, ...], unlocked: bool
) -> None:
    generator = Generator(tmp_path)
    expiry = store_expiring(user, 2)
    if unlocked:  # the agent answers, and the helper reads the chain itself
        askpass = Askpass(user.root, "unused", PASSPHRASE)
        user.env.pop("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE")
        done = user.run(
            ["git-credential-sagemaker", "unlock"],
            env={"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None},
        )
        assert done.returncode == 0, done.stderr
    wait_past(expiry)
    (user.home / ".gitconfig").write_text(
        f"[credential]\n\thelper = sagemaker\n\thelper = {generator.program}\n"
    )

    # Ours answers the refresh token and the expiry, never the stale password.
    answered = helper_get(user, GH)
    assert answered == {
        "username": "alice",
        "password_expiry_utc": str(expiry),
        "oauth_refresh_token": "ghr_refresh",
    }

    filled = fill(user, GH, *chain(generator))

    assert filled["password"] == "gho_minted"
    [asked] = generator.asked()
    assert "password" not in asked
    if git_version >= (2, 41):  # older git drops what it does not know of
        assert asked["oauth_refresh_token"] == "ghr_refresh"
        assert asked["username"] == "alice"
    # With nobody after ours, the agent's answer makes way for the line and the prompt.
    (user.home / ".gitconfig").write_text("[credential]\n\thelper = sagemaker\n")
    done = user.helper("get", GH.encode(), env=IN_A_KERNEL)
    assert b"ghr_refresh" not in done.stdout
    assert b"quit=1" in done.stdout
    assert b"expired on" in done.stderr


def test_an_expired_token_with_no_helper_after_ours_is_named_before_the_prompt(
    user: User, git_version: tuple[int, ...]
) -> None:
    expiry = store_expiring(user, 2)
    wait_past(expiry)

    done = user.git("credential", "fill", input=GH.encode(), env=IN_A_KERNEL)

    assert done.returncode != 0
    said = done.stderr.decode()
    assert "the token for github.com (alice) expired on" in said, said
    assert "gho_stale" not in said and "ghr_refresh" not in said


def test_in_a_kernel_a_helper_after_ours_still_answers(
    user: User, tmp_path: Path, git_version: tuple[int, ...]
) -> None:
    generator = Generator(tmp_path)

    filled = fill(user, GH, *chain(generator), **IN_A_KERNEL)

    assert filled["password"] == "gho_minted"
    assert len(generator.asked()) == 1


def test_in_a_kernel_ours_alone_stops_git_at_once(user: User, git_version: tuple[int, ...]) -> None:
    done = user.git("credential", "fill", input=GH.encode(), env=IN_A_KERNEL)

    assert done.returncode != 0
    assert b"no token stored for github.com" in done.stderr
    assert b"Username for" not in done.stderr


def test_a_helper_configured_for_another_host_does_not_count(
    user: User, tmp_path: Path, git_version: tuple[int, ...]
) -> None:
    generator = Generator(tmp_path)
    elsewhere = ("-c", f"credential.https://gitlab.example.com.helper={generator.program}")

    done = user.git(*elsewhere, "credential", "fill", input=GH.encode(), env=IN_A_KERNEL)

    assert done.returncode != 0
    assert generator.requests == []
    assert b"no token stored for github.com" in done.stderr


def test_state_and_continue_are_ignored_safely(user: User, git_version: tuple[int, ...]) -> None:
    extra = "capability[]=state\nstate[]=oauth.pkce=abc\ncontinue=1\n"
    stored = user.helper("store", (GH + "username=alice\npassword=ghp_x\n" + extra).encode())
    assert stored.returncode == 0 and stored.stderr == b""

    answered = helper_get(user, GH + extra)

    assert answered == {"username": "alice", "password": "ghp_x"}
    assert fill(user, GH)["password"] == "ghp_x"


def test_an_ephemeral_authtype_credential_is_used_once_and_never_kept(
    user: User, tmp_path: Path, git_version: tuple[int, ...]
) -> None:
    generator = Generator(tmp_path)
    request = GH + "capability[]=authtype\nauthtype=Bearer\ncredential=eph_token\nephemeral=1\n"
    approve(user, request)
    store_dir = user.store_dir
    assert not any(b"eph_token" in p.read_bytes() for p in store_dir.rglob("*") if p.is_file())

    # Nothing of ours answers, so the generator after ours is asked.
    filled = fill(user, GH + "capability[]=authtype\n", *chain(generator))

    assert filled["password"] == "gho_minted"
    assert "eph_token" not in filled.values()


# -- SageMaker's stock gitconfig ----------------------------------------------------------------

STOCK_GITCONFIG = (
    "[credential]\n    helper = !aws codecommit credential-helper $@\n    UseHttpPath = true\n"
)
CODECOMMIT = "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/data"


def clone(instance: Instance, git_server: GitServer, name: str) -> Path:
    """A clone of a new repository on the loopback server, pointed at its URL."""
    url = git_server.create_repo(name)
    work = instance.volume / name
    done = instance.run("git", "clone", "-q", str(git_server.repo_path(name)), str(work))
    assert done.returncode == 0, done.stderr
    assert instance.run("git", "remote", "set-url", "origin", url, cwd=work).returncode == 0
    (work / "notes.txt").write_text(name)
    assert instance.run("git", "add", "notes.txt", cwd=work).returncode == 0
    assert instance.run("git", "commit", "-qm", name, cwd=work).returncode == 0
    return work


def test_on_sagemakers_stock_gitconfig_the_token_is_typed_once_for_every_repository(
    user: User, git_server: GitServer
) -> None:
    instance = Instance(user)
    instance.user.env.update(IDENTITY)
    (instance.home / ".gitconfig").write_text(STOCK_GITCONFIG)
    doctor = instance.run("git-credential-sagemaker", "doctor").stdout.decode()
    assert "credential.useHttpPath is on for every host (SageMaker sets it for CodeCommit)" in (
        doctor
    ), doctor

    done = instance.run("git-credential-sagemaker", "setup", "--no-repo")
    assert done.returncode == 0, done.stderr
    assert "credential.useHttpPath" in done.stdout.decode()
    name, token = f"sm{secrets.token_hex(3)}", f"ghp_{secrets.token_hex(12)}"
    git_server.allow(name, token)
    askpass = Askpass(user.root, name, token, passphrase=PASSPHRASE)
    env = {"GIT_ASKPASS": str(askpass.program)}

    for repo in (f"first-{name}", f"second-{name}"):
        pushed = instance.run(
            "git", "push", "-q", "origin", "HEAD", cwd=clone(instance, git_server, repo), **env
        )
        assert pushed.returncode == 0, pushed.stderr

    typed = [p for p in askpass.prompts if p.startswith(("Username", "Password"))]
    assert len(typed) == 2, askpass.prompts  # one username and one token, at the first push
    doctor = instance.run("git-credential-sagemaker", "doctor").stdout.decode()
    assert "useHttpPath" not in doctor, doctor
    # CodeCommit's helper keeps the paths it signs, and stays first in its chain.
    assert (
        instance.run(
            "git", "config", "--type=bool", "--get-urlmatch", "credential.usehttppath", CODECOMMIT
        ).stdout
        == b"true\n"
    )
    assert (instance.home / ".gitconfig").read_text().startswith(STOCK_GITCONFIG)


def test_git_credential_cache_in_front_of_ours_keeps_both_in_step(
    user: User, git_version: tuple[int, ...]
) -> None:
    sock = user.runtime / "cache.sock"
    chain = ["-c", "credential.helper=", "-c", f"credential.helper=cache --socket {sock}"]
    chain += ["-c", "credential.helper=sagemaker"]

    def credential(op: str, request: str) -> bytes:
        done = user.run(["git", *chain, "credential", op], input=request.encode())
        assert done.returncode == 0 and done.stderr == b"", done.stderr
        return done.stdout

    try:
        credential("approve", GH + "username=alice\npassword=ghp_both\n")
        assert helper_get(user, GH)["password"] == "ghp_both"  # ours has it too
        assert b"password=ghp_both" in credential("fill", GH)

        credential("reject", GH + "username=alice\npassword=ghp_both\n")

        assert user.helper("get", GH.encode()).stdout == b""
        cached = user.run(["git", "credential-cache", f"--socket={sock}", "get"], input=GH.encode())
        assert b"ghp_both" not in cached.stdout
    finally:
        user.run(["git", "credential-cache", f"--socket={sock}", "exit"])
