"""Signing in with a GitHub App's device flow, and its tokens refreshed, through real git.

The fake OAuth server (fakeoauth.py) runs as its own process; the loopback git server accepts
only the access tokens the fake says are valid now, so a push proves the token is current.
"""

from __future__ import annotations

import random
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pexpect
import pytest
from fakeoauth import CLIENT_ID, FakeOAuth
from gitserver import GitServer
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from motoserver import MotoServer
from support import PASSPHRASE, Askpass, User, merged, stop
from test_notebook_kernel import KERNEL_START_TIMEOUT, Kernel, assert_no_hang, kernel_env

APP = "git-credential-sagemaker"
NO_PROMPTS = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": None, "SSH_ASKPASS": None}


class App(NamedTuple):
    user: User
    fake: FakeOAuth
    server: GitServer
    host: str  # 127.0.0.1:PORT, the git server
    url: str  # a repository on it

    def start_login(self) -> tuple[subprocess.Popen[str], list[str]]:
        """`login --device`, once it has shown the URL and the code (its two lines)."""
        child = subprocess.Popen(
            [APP, "login", "--device", f"http://{self.host}"],
            env=merged(self.user.env),
            cwd=self.user.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        shown = [child.stdout.readline() for _ in range(2)]
        assert shown[0].startswith("open: https://github.com/login/device"), shown
        assert shown[1].startswith("code: "), shown
        return child, shown

    def login(self) -> subprocess.CompletedProcess[str]:
        """`login --device`, approved in the "browser" once it has shown the code."""
        child, shown = self.start_login()
        assert self.fake.control("approve")["changed"] == "1"
        out, err = child.communicate(timeout=60)
        return subprocess.CompletedProcess(child.args, child.returncode, "".join(shown) + out, err)

    def git(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        return self.user.run(["git", *args], cwd=cwd, env=NO_PROMPTS)

    def clone(self, name: str) -> Path:
        work = self.user.root / name
        done = self.git("clone", "-q", self.url, str(work))
        assert done.returncode == 0, done.stderr
        return work


@pytest.fixture
def app(user: User, git_server: GitServer, tmp_path: Path) -> Iterator[App]:
    fake = FakeOAuth(tmp_path)
    git_server.validator = fake.valid
    try:
        host = f"127.0.0.1:{git_server.port}"
        url = git_server.create_repo(f"app-{secrets.token_hex(3)}")
        (user.home / ".gitconfig").write_text(
            "[credential]\n\thelper = sagemaker\n"
            f'[credential "http://{host}"]\n'
            f"\tsagemakerOAuthClientId = {CLIENT_ID}\n"
            f"\tsagemakerOAuthUrl = {fake.url}\n"
        )
        yield App(user, fake, git_server, host, url)
    finally:
        git_server.validator = None
        fake.stop()


def test_login_device_then_git_asks_nothing(app: App) -> None:
    done = app.login()

    assert done.returncode == 0, done.stderr
    assert f"signed in to http://{app.host}" in done.stdout
    work = app.clone("work")  # no prompt could be answered: the stored token did it
    (work / "a.txt").write_text("a")
    assert app.git("add", "a.txt", cwd=work).returncode == 0
    assert app.git("commit", "-qm", "a", cwd=work).returncode == 0
    pushed = app.git("push", "-q", "origin", "HEAD", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    listed = app.user.run([APP, "list"]).stdout.decode()
    assert "x-access-token" in listed and "ghu_" not in listed and "ghr_" not in listed
    for path in app.user.store_dir.rglob("*"):
        if path.is_file():
            assert b"ghu_" not in path.read_bytes() and b"ghr_" not in path.read_bytes()


@pytest.mark.parametrize("agent", [False, True], ids=["each-git-opens-the-store", "the-agent"])
def test_after_expiry_eight_parallel_fetches_make_one_refresh(app: App, agent: bool) -> None:
    app.fake.control("expires_in", seconds="2")
    assert app.login().returncode == 0
    clones = [app.clone(f"c{i}") for i in range(8)]  # each refreshes: its token is due
    app.fake.control("expires_in", seconds="3600")  # the next pair lasts
    if agent:  # unlocked: the agent answers, and refreshes, for every git
        askpass = Askpass(app.user.root, "unused", PASSPHRASE)
        app.user.env.pop("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE")
        unlock = {"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None}
        assert app.user.run([APP, "unlock"], env=unlock).returncode == 0
        assert app.user.agent_pids()
    time.sleep(2.5)  # the access token has expired
    before = app.fake.stats()["refreshes"]

    fetches = [
        subprocess.Popen(
            ["git", "fetch", "-q"],
            cwd=work,
            env=merged(app.user.env, NO_PROMPTS),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for work in clones
    ]
    results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else b"") for p in fetches]

    assert [code for code, _ in results] == [0] * 8, results
    stats = app.fake.stats()
    assert stats["refreshes"] - before == 1
    assert stats["reused"] == 0  # a retired refresh token was never sent


def test_a_revoked_refresh_token_is_one_line_and_the_entry_goes(app: App) -> None:
    app.fake.control("expires_in", seconds="2")
    assert app.login().returncode == 0
    app.fake.control("revoke")

    done = app.user.run(["git", "ls-remote", app.url], env=NO_PROMPTS)

    assert done.returncode != 0
    said = done.stderr.decode()
    lines = [line for line in said.splitlines() if "refused to refresh" in line]
    assert lines == [
        f"git-credential-sagemaker: GitHub refused to refresh the token for {app.host} "
        "(revoked, unused for six months, or the App uninstalled), so it was removed; sign in "
        f"again with: {APP} login --device http://{app.host}"
    ], said
    assert app.user.run([APP, "list"]).stdout.decode().strip() == "no tokens stored"


def test_polling_honours_slow_down_and_ends_on_denial_or_expiry(app: App) -> None:
    app.fake.control("slow_down")
    app.fake.control("form", on="1")  # answers as a form, as GitHub does without Accept
    assert app.login().returncode == 0
    assert app.fake.stats()["device_polls"] >= 2  # slow_down, then the approval

    for what, said in (("deny", "denied in the browser"), ("expire", "code expired")):
        child, _ = app.start_login()
        app.fake.control(what)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 1
        assert said in err and err.count("\n") == 1, err


def test_ctrl_c_stops_signing_in_cleanly(app: App) -> None:
    child, _ = app.start_login()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)

    assert child.returncode == 130
    assert err == f"{APP}: signing in was stopped; nothing was stored\n"
    assert "Traceback" not in err


def test_in_a_cell_with_nothing_stored_git_never_waits_and_the_agent_signs_in(
    app: App,
) -> None:
    in_a_cell = {**NO_PROMPTS, "JPY_PARENT_PID": "1", "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
    # A keyring with another host's token, locked: nothing can sign in yet.
    app.user.approve("protocol=https\nhost=example.com\nusername=u\npassword=p\n")
    locked = app.user.run(["git", "ls-remote", app.url], env=in_a_cell)
    assert locked.returncode != 0
    assert (
        "in a notebook cell run: from git_credential_sagemaker import login; login(device=True)"
        in locked.stderr.decode()
    ), locked.stderr
    assert app.fake.stats()["pending"] == 0

    # Unlocked: the agent starts the flow, the cell gets one line with the code at once.
    askpass = Askpass(app.user.root, "unused", PASSPHRASE)
    unlock = {"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None}
    unlock["GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE"] = None
    assert app.user.run([APP, "unlock"], env=unlock).returncode == 0
    first = app.user.run(["git", "ls-remote", app.url], env=in_a_cell)
    assert first.returncode != 0
    [line] = [x for x in first.stderr.decode().splitlines() if "to sign in" in x]
    assert "open https://github.com/login/device and enter the code" in line
    assert app.fake.stats()["pending"] == 1
    again = app.user.run(["git", "ls-remote", app.url], env=in_a_cell)
    assert line in again.stderr.decode()  # the same code while it waits: no second flow
    assert app.fake.stats()["pending"] == 1

    app.fake.control("approve")
    deadline = time.monotonic() + 30
    while app.user.run(["git", "ls-remote", app.url], env=in_a_cell).returncode != 0:
        assert time.monotonic() < deadline, "the agent never stored the approved tokens"
        time.sleep(0.5)


@pytest.mark.timeout(600)
def test_kill_9_during_refreshes_never_breaks_the_store(app: App) -> None:
    app.fake.control("expires_in", seconds="1")  # every get refreshes
    assert app.login().returncode == 0
    rng = random.Random(20)  # the same rounds on every run
    request = f"protocol=http\nhost={app.host}\n".encode()
    for _ in range(20):
        child = subprocess.Popen(
            [APP, "get"],
            env=merged(app.user.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert child.stdin is not None
        child.stdin.write(request)
        child.stdin.close()
        time.sleep(rng.uniform(0.0, 0.6))
        child.kill()
        child.wait(timeout=30)
        # The store always opens; the next get has the new pair, can still refresh, or says
        # to sign in again (when the kill fell after GitHub rotated the pair).
        listed = app.user.run([APP, "list"])
        assert listed.returncode == 0, listed.stderr
        answered = app.user.helper("get", request)
        assert answered.returncode == 0, answered.stderr
        if b"password=" not in answered.stdout:
            assert b"login --device" in answered.stderr, answered.stderr
            assert app.login().returncode == 0
    assert app.user.helper("get", request).stdout.count(b"password=ghu_") == 1


@pytest.fixture
def kernel(app: App) -> Iterator[Kernel]:
    km = KernelManager(kernel_name="python3", connection_file=str(app.user.root / "kernel.json"))
    km.start_kernel(env=kernel_env(app.user), cwd=str(app.user.root))
    kc: BlockingKernelClient | None = None
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
        yield Kernel(km, kc)
    finally:
        if kc is not None:
            kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_git_login_device_in_a_cell_returns_at_once_and_the_next_push_works(
    app: App, kernel: Kernel
) -> None:
    work = app.user.root / "work"
    bare = str(app.server.repo_path(app.url.rsplit("/", 1)[1]))
    assert app.user.run(["git", "clone", "-q", bare, str(work)]).returncode == 0
    assert app.git("remote", "set-url", "origin", app.url, cwd=work).returncode == 0
    (work / "a.txt").write_text("a")
    assert app.git("add", "a.txt", cwd=work).returncode == 0
    assert app.git("commit", "-qm", "a", cwd=work).returncode == 0
    passphrase = f"cell passphrase {secrets.token_hex(3)}"

    cell = kernel.run(
        f"%load_ext git_credential_sagemaker\n%git_login --device http://{app.host}",
        answers=[passphrase, passphrase],
    )

    assert cell.status == "ok", cell.output
    assert "To sign in, open https://github.com/login/device" in cell.output, cell.output
    assert "and enter the code " in cell.output
    assert app.fake.stats()["pending"] == 1  # the cell returned; the agent waits
    app.fake.control("approve")
    deadline = time.monotonic() + 30
    while app.fake.stats()["pending"] or not app.user.run([APP, "list"]).stdout.count(b"http://"):
        assert time.monotonic() < deadline, "the agent never stored the approved tokens"
        time.sleep(0.2)
    pushed = kernel.run(f"%cd {work}\n!git push -q origin HEAD")
    assert_no_hang(pushed)
    assert pushed.exit_code == "0", pushed.output
    assert passphrase not in kernel.all_output()


def test_a_restart_on_a_kms_store_with_the_token_expired_asks_nothing(
    app: App, aws: MotoServer
) -> None:
    key = aws.client("kms").create_key(Description="device flow")["KeyMetadata"]["Arn"]
    restarted = {**aws.env, "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None, **NO_PROMPTS}
    app.user.env.update({k: v for k, v in restarted.items() if v is not None})
    app.user.env.pop("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE")
    done = app.user.run([APP, "setup", "--no-repo", "--kms-key", key])
    assert done.returncode == 0, done.stderr
    app.fake.control("expires_in", seconds="2")
    assert app.login().returncode == 0
    app.fake.control("expires_in", seconds="28800")  # eight hours, as GitHub's

    stop(app.user.agent_pids())  # a restart: the agents stop, the runtime folder is emptied
    shutil.rmtree(app.user.runtime)
    app.user.runtime.mkdir(mode=0o700)
    time.sleep(2.5)  # the access token expired meanwhile

    done = app.git("ls-remote", app.url)

    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # KMS opened the store, and the refresh did the rest
    assert app.fake.stats()["refreshes"] == 1


def test_a_push_at_a_terminal_with_nothing_stored_signs_in_instead_of_asking(app: App) -> None:
    env = {k: v for k, v in app.user.env.items() if k != "GIT_TERMINAL_PROMPT"}
    child = pexpect.spawn(
        "git", ["ls-remote", app.url], cwd=str(app.user.root), env=env, timeout=60, encoding="utf-8"
    )

    child.expect(r"to sign in, open https://github\.com/login/device and enter the code \S+;")
    assert "Username" not in str(child.before)
    app.fake.control("approve")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0, child.before
    assert "refs/heads" in str(child.before) or "HEAD" in str(child.before)
    assert "Username for" not in str(child.before) and "Password for" not in str(child.before)
    again = app.git("ls-remote", app.url)  # stored: no prompt possible, none needed
    assert again.returncode == 0, again.stderr


def test_setup_and_the_fleet_script_hand_out_the_client_id(user: User) -> None:
    done = user.run([APP, "setup", "--no-repo", "--github-app", "Iv23liEXAMPLE"])
    assert done.returncode == 0, done.stderr
    got = user.run(
        [
            "git",
            "config",
            "--get-urlmatch",
            "credential.sagemakerOAuthClientId",
            "https://github.com/o/r",
        ]
    )
    assert got.stdout == b"Iv23liEXAMPLE\n"
    again = user.run([APP, "setup", "--no-repo", "--github-app", "Iv23liEXAMPLE"])
    assert b"sagemakerOAuthClientId" not in again.stdout  # nothing left to change
    script = user.run([APP, "lifecycle-script", "--fleet", "--github-app", "Iv23liEXAMPLE"])
    assert script.returncode == 0 and b"--github-app Iv23liEXAMPLE" in script.stdout

    for bad, said in (
        (["--github-app", " Iv1.a"], "--github-app needs a name"),
        (["--github-app", "Iv1.a", "--github-app-url", "ftp://h"], "--github-app-url needs"),
    ):
        wrong = user.run([APP, "setup", "--no-repo", *bad])
        assert wrong.returncode != 0 and said.encode() in wrong.stderr, wrong.stderr
        assert wrong.stderr.count(b"\n") == 1


def test_an_oauth_base_that_is_not_https_is_refused_in_one_line(app: App) -> None:
    with (app.user.home / ".gitconfig").open("a") as config:
        config.write(
            f'[credential "http://{app.host}"]\n\tsagemakerOAuthUrl = http://example.com\n'
        )

    done = app.user.run([APP, "login", "--device", f"http://{app.host}"])

    assert done.returncode == 1
    assert done.stderr.decode().count("\n") == 1
    assert "must be https (or http to a loopback address)" in done.stderr.decode()
