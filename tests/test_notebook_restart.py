"""Notebooks after a restart, and git in a cell that never waits: real kernels, git and server.

Every kernel here runs in an env of its own that can't import the package, as a notebook
instance's conda env can't after a restart: a venv whose only addition is a path file naming
this suite's site-packages, for ipykernel. A path line adds the directory but runs none of
its .pth files, so the package's editable finder is never installed; each test asserts that
`import git_credential_sagemaker` fails in its kernel. A restart is simulated as in
test_setup: everything but the volume is wiped, then the saved on-start script runs as
the user (GCS_AS_USER=env) and a fresh kernel starts.

Cell time limits are hang detectors (a cell that waits for a prompt never ends), not
measures of speed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import queue
import re
import secrets
import shutil
import subprocess
import sysconfig
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from gitserver import GitServer
from instance import BASE_PYTHON, Instance
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from support import BIN, User, isolated_env, merged

STARTUP = Path(".ipython", "profile_default", "startup", "50-git-credential-sagemaker.py")
KERNEL_START_TIMEOUT = 60.0
CELL_TIMEOUT = 60.0  # a hang detector: a cell waiting on a prompt never ends
INSTALL_TIMEOUT = 240.0  # a hang detector for setup and the on-start script (pip, wheels)
PASSPHRASE = "restart passphrase " + secrets.token_hex(4)
NOT_IMPORTABLE = (
    "try:\n"
    "    import git_credential_sagemaker\n"
    "except ModuleNotFoundError:\n"
    "    print('package: absent')\n"
    "else:\n"
    "    print('package: importable')\n"
)


# -- a kernel, driven as JupyterLab drives it ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Prompt:
    text: str
    password: bool


@dataclasses.dataclass
class Cell:
    output: str
    prompts: list[Prompt]
    status: str
    rc: str  # `_exit_code` after the cell: the last `!command`'s exit status

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


class Kernel:
    """A started kernel plus a client that answers its input requests in order."""

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km = km
        self.kc = kc
        self.messages: list[dict[str, Any]] = []

    def run(self, code: str, answers: Sequence[str] = ()) -> Cell:
        pending = list(answers)
        prompts: list[Prompt] = []
        chunks: list[str] = []
        deadline = time.monotonic() + CELL_TIMEOUT
        msg_id = self.kc.execute(code, allow_stdin=True, user_expressions={"rc": "_exit_code"})
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            if time.monotonic() > deadline:
                self.km.interrupt_kernel()
                pytest.fail(f"cell still running after {CELL_TIMEOUT} s: {code!r}\n{chunks!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                pass
            else:
                self.messages.append(msg)
                if msg["parent_header"].get("msg_id") == msg_id:
                    chunks.append(_text(msg))
                    state = msg["content"].get("execution_state")
                    idle = msg["msg_type"] == "status" and state == "idle"
            while self.kc.stdin_channel.msg_ready():
                request = self.kc.get_stdin_msg(timeout=1)
                if request["msg_type"] == "input_request":
                    content = request["content"]
                    prompts.append(Prompt(content["prompt"], bool(content["password"])))
                    self.kc.input(pending.pop(0) if pending else "")
            while reply is None and self.kc.shell_channel.msg_ready():
                shell = self.kc.get_shell_msg(timeout=1)
                if shell["parent_header"].get("msg_id") == msg_id:
                    reply = shell
        rc = reply["content"].get("user_expressions", {}).get("rc", {})
        return Cell(
            output="".join(chunks),
            prompts=prompts,
            status=reply["content"]["status"],
            rc=str(rc.get("data", {}).get("text/plain", "")),
        )

    def all_output(self) -> str:
        return "\n".join(json.dumps(msg["content"]) for msg in self.messages)


def _text(msg: dict[str, Any]) -> str:
    content = msg["content"]
    if msg["msg_type"] == "stream":
        return str(content["text"])
    if msg["msg_type"] == "error":
        return "\n".join(content["traceback"])
    if msg["msg_type"] in ("execute_result", "display_data"):
        return str(content["data"].get("text/plain", ""))
    return ""


@dataclasses.dataclass(frozen=True)
class BareEnv:
    """A kernel env without the package: its python, and a kernelspec that runs it."""

    bin: Path
    kernels: Path


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory: pytest.TempPathFactory) -> BareEnv:
    root = tmp_path_factory.mktemp("kernel-env")
    venv = root / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    # ipykernel and its dependencies, by path only, through a folder that links every entry
    # of this suite's site-packages but the package itself (installed or editable): a path
    # line runs no .pth file, so the package's editable finder is never installed either.
    deps = root / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        name = entry.name.lower().replace("-", "_")
        if name.startswith(("git_credential_sagemaker", "__editable__")) or name.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    Path(purelib, "kernel-deps.pth").write_text(f"{deps}\n")
    spec = root / "kernels" / "bare"
    spec.mkdir(parents=True)
    argv = [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "bare", "language": "python"})
    )
    return BareEnv(venv / "bin", root / "kernels")


@contextlib.contextmanager
def kernel(bare: BareEnv, env: dict[str, str], cwd: Path, connection: Path) -> Iterator[Kernel]:
    """A fresh kernel in the bare env, shut down when the block ends."""
    km = KernelManager(
        kernel_name="bare",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(bare.kernels)]),
        connection_file=str(connection),
    )
    km.start_kernel(env=env, cwd=str(cwd))
    kc: BlockingKernelClient | None = None
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
        started = Kernel(km, kc)
        absent = started.run(NOT_IMPORTABLE)
        assert "package: absent" in absent.output, absent.output
        yield started
    finally:
        if kc is not None:
            kc.stop_channels()
        km.shutdown_kernel(now=True)


def kernel_env(env: dict[str, str], bare: BareEnv, path: str) -> dict[str, str]:
    """What a notebook server passes its kernels: the user's env, the kernel env's bin first."""
    return merged(env, {"PATH": f"{bare.bin}:{path}", "GIT_TERMINAL_PROMPT": None})


def hinted_line(output: str) -> str:
    """The line the helper's hint says to run in a cell."""
    found = re.search(r"in a notebook cell run: (.+)", output)
    assert found, output
    return found.group(1).strip()


def waits_for_username(output: str) -> bool:
    """Whether git's own prompt was left on screen, waiting (not refused)."""
    return re.search(r"Username for '[^']*': *$", output, re.MULTILINE) is not None


def processes_showing(secret: bytes) -> list[str]:
    """Running processes whose argv or environment holds `secret` (ours are readable)."""
    hits = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            for part in ("cmdline", "environ"):
                with contextlib.suppress(OSError):
                    if secret in (proc / part).read_bytes():
                        hits.append(f"{proc.name}/{part}")
    return hits


# -- a notebook instance ----------------------------------------------------------------------


def clone(user: User, git_server: GitServer, where: Path) -> tuple[Path, str, str]:
    """A clone of a new repository on the server; (work tree, username, token)."""
    name = f"nb{secrets.token_hex(3)}"
    token = f"ghp_{secrets.token_hex(12)}"
    git_server.allow(name, token)
    url = git_server.create_repo(f"restart-{name}")
    done = user.run(
        ["git", "clone", "-q", str(git_server.repo_path(f"restart-{name}")), str(where)]
    )
    assert done.returncode == 0, done.stderr
    assert user.run(["git", "remote", "set-url", "origin", url], cwd=where).returncode == 0
    return where, name, token


def commit(user: User, work: Path, name: str) -> str:
    (work / name).write_text(name)
    assert user.run(["git", "add", name], cwd=work).returncode == 0
    done = user.run(["git", "commit", "-qm", name], cwd=work)
    assert done.returncode == 0, done.stderr
    return rev(user, work, "HEAD")


def rev(user: User, where: Path, ref: str) -> str:
    done = user.run(["git", "rev-parse", ref], cwd=where)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.timeout(900)  # hang detection: setup and the on-start script each install wheels
def test_after_a_restart_the_hinted_line_unlocks_a_kernel_without_the_package(
    user: User, git_server: GitServer, bare_env: BareEnv
) -> None:
    instance = Instance(user)
    work, name, token = clone(user, git_server, instance.volume / "project")
    done = instance.run(
        "git-credential-sagemaker",
        "setup",
        "--no-repo",
        "--name",
        "A",
        "--email",
        "a@b.c",
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert b"kernel startup file" in done.stdout, done.stdout
    startup = instance.home / STARTUP
    written_by_setup = startup.read_bytes()
    bare_path = f"{instance.home / '.local' / 'bin'}:/usr/bin:/bin"

    # Before the restart: %git_login in a kernel that can't import the package.
    env = kernel_env(instance.user.env, bare_env, bare_path)
    with kernel(bare_env, env, work, user.root / "k1.json") as k:
        base = git_server.base_url
        login = k.run(f"%git_login {base} {name}", answers=[token, PASSPHRASE, PASSPHRASE])
        assert login.status == "ok", login.output
        assert [p.password for p in login.prompts] == [True, True, True], login.prompts
        assert login.prompts[0].text.startswith(f"Token for {name}@"), login.prompts
        assert "Stored the token" in login.output, login.output
        head = commit(user, work, "before.txt")
        pushed = k.run("!git push -q origin HEAD")
        assert pushed.rc == "0", pushed.output
        assert token not in k.all_output() and PASSPHRASE not in k.all_output()
    assert rev(user, git_server.repo_path(f"restart-{name}"), "main") == head

    # The restart, and the on-start script as the user, with no package index.
    instance.restart()
    assert not startup.exists()
    restored = instance.on_start(timeout=INSTALL_TIMEOUT)
    assert b"git-credential-sagemaker: restored" in restored.stdout, restored.stdout
    assert startup.read_bytes() == written_by_setup

    # A fresh kernel: the push's hint names a line, and that line unlocks in the password box.
    env = kernel_env(instance.user.env, bare_env, bare_path)
    with kernel(bare_env, env, work, user.root / "k2.json") as k:
        head = commit(user, work, "after.txt")
        locked = k.run("!git push -q origin HEAD")
        assert locked.rc not in ("", "0"), locked.output
        assert locked.prompts == [], "git must not ask through the notebook's input box"
        line = hinted_line(locked.output)
        assert line == "%git_unlock", locked.output

        command = k.run("!git-credential-sagemaker unlock")
        assert hinted_line(command.output) == line, command.output
        assert command.prompts == []

        unlocked = k.run(line, answers=[PASSPHRASE])
        assert unlocked.prompts == [Prompt(f"Passphrase for {instance.state}: ", True)]
        assert "unlocked" in unlocked.output, unlocked.output
        assert processes_showing(PASSPHRASE.encode()) == []

        pushed = k.run("!git push -q origin HEAD")
        assert pushed.rc == "0", pushed.output
        assert pushed.prompts == []
        assert PASSPHRASE not in k.all_output() and token not in k.all_output()
    assert rev(user, git_server.repo_path(f"restart-{name}"), "main") == head


def test_in_studio_the_magic_logs_in_from_a_kernel_without_the_package(
    user: User, git_server: GitServer, bare_env: BareEnv
) -> None:
    studio_home = user.root / "fs" / "home" / "sagemaker-user"
    studio_home.mkdir(parents=True)
    user.env = isolated_env(studio_home, runtime=user.runtime, identity=False, may_prompt=True)
    user.env["GIT_CREDENTIAL_SAGEMAKER_ROOT"] = str(user.root / "fs")
    done = user.run(
        ["git-credential-sagemaker", "setup", "--no-repo", "--name", "A", "--email", "a@b.c"]
    )
    assert done.returncode == 0, done.stderr
    assert (studio_home / STARTUP).exists(), done.stdout
    work, name, token = clone(user, git_server, studio_home / "project")
    # Studio's kernels and server share the image's env, where pip put the command.
    env = kernel_env(user.env, bare_env, f"{BIN}:/usr/bin:/bin")
    with kernel(bare_env, env, work, user.root / "k1.json") as k:
        nothing = k.run("!git push -q origin HEAD")
        assert hinted_line(nothing.output) == "%git_login", nothing.output
        login = k.run(
            f"%git_login {git_server.base_url} {name}", answers=[token, PASSPHRASE, PASSPHRASE]
        )
        assert "Stored the token" in login.output, login.output

    # Studio's restart: home stays, the agent and the kernels go.
    assert user.run(["git-credential-sagemaker", "lock"]).returncode == 0
    shutil.rmtree(user.runtime)
    user.runtime.mkdir(mode=0o700)
    with kernel(bare_env, env, work, user.root / "k2.json") as k:
        head = commit(user, work, "studio.txt")
        locked = k.run("!git push -q origin HEAD")
        line = hinted_line(locked.output)
        assert line == "%git_unlock", locked.output
        unlocked = k.run(line, answers=[PASSPHRASE])
        assert [p.password for p in unlocked.prompts] == [True], unlocked.prompts
        pushed = k.run("!git push -q origin HEAD")
        assert pushed.rc == "0", pushed.output
    assert rev(user, git_server.repo_path(f"restart-{name}"), "main") == head


def test_a_restore_that_fails_still_gives_kernels_the_startup_file(
    user: User, bare_env: BareEnv
) -> None:
    instance = Instance(user)
    script = instance.run("git-credential-sagemaker", "lifecycle-script")
    assert script.returncode == 0, script.stderr
    wheels = instance.state / "wheels"
    wheels.mkdir(parents=True)
    (wheels / "python-version").write_text("2.7\n")  # no such Python: the install can't happen
    done = instance.run("bash", "-c", script.stdout.decode(), GCS_AS_USER="env")
    assert done.returncode == 0 and b"no Python 2.7" in done.stdout, done.stdout
    written = (instance.home / STARTUP).read_text()
    assert "'GIT_TERMINAL_PROMPT': '0'" in written and "'GIT_EDITOR'" in written
    assert str(instance.home / ".local/share/git-credential-sagemaker/venv/bin/python") in written
    # With no venv, the magics name the one terminal line that brings it back.
    env = kernel_env(instance.user.env, bare_env, "/usr/bin:/bin")
    with kernel(bare_env, env, instance.home, user.root / "k.json") as k:
        unlock = k.run("%git_unlock")
        assert unlock.prompts == [], unlock.output
        fix = f"in a terminal run: sudo bash {instance.state / 'on-start.sh'}"
        assert fix in unlock.output, unlock.output


# -- nothing hangs a cell ---------------------------------------------------------------------


@pytest.fixture
def plain(user: User) -> User:
    """A user on an ordinary machine, after setup: startup file and git settings in home."""
    user.env = isolated_env(user.home, runtime=user.runtime, identity=True, may_prompt=True)
    user.env["GIT_CREDENTIAL_SAGEMAKER_ROOT"] = str(user.root / "laptop")  # neither SageMaker
    setup = ["git-credential-sagemaker", "setup", "--no-repo", "--name", "A", "--email", "a@b.c"]
    done = user.run(setup)
    assert done.returncode == 0, done.stderr
    assert (user.home / STARTUP).exists(), done.stdout
    return user


def test_a_diverged_pull_in_a_cell_merges_without_an_editor(plain: User, bare_env: BareEnv) -> None:
    origin = plain.root / "origin.git"
    theirs, mine = plain.root / "theirs", plain.root / "mine"
    assert plain.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)]).returncode == 0
    assert plain.run(["git", "init", "-q", "-b", "main", str(theirs)]).returncode == 0
    assert plain.run(["git", "remote", "add", "origin", str(origin)], cwd=theirs).returncode == 0
    commit(plain, theirs, "base.txt")
    assert plain.run(["git", "push", "-q", "-u", "origin", "main"], cwd=theirs).returncode == 0
    assert plain.run(["git", "clone", "-q", str(origin), str(mine)]).returncode == 0
    commit(plain, theirs, "theirs.txt")
    assert plain.run(["git", "push", "-q"], cwd=theirs).returncode == 0
    ours = commit(plain, mine, "mine.txt")

    env = kernel_env(plain.env, bare_env, "/usr/bin:/bin")
    with kernel(bare_env, env, mine, plain.root / "k.json") as k:
        pulled = k.run("!git pull")
        assert pulled.rc == "0", pulled.output
    assert not (mine / ".git" / "MERGE_HEAD").exists()
    parents = plain.run(["git", "log", "-1", "--format=%P %s"], cwd=mine).stdout.decode().split()
    assert parents[0] == ours and len(parents[1]) == 40, parents  # a merge, git's own message
    assert " ".join(parents[2:]).startswith("Merge branch 'main'"), parents
    assert (mine / "theirs.txt").exists()


def test_commit_and_rebase_in_a_cell_fail_at_once_with_advice(
    plain: User, bare_env: BareEnv
) -> None:
    repo = plain.root / "repo"
    assert plain.run(["git", "init", "-q", "-b", "main", str(repo)]).returncode == 0
    commit(plain, repo, "one.txt")
    head = commit(plain, repo, "two.txt")
    (repo / "three.txt").write_text("3")
    assert plain.run(["git", "add", "three.txt"], cwd=repo).returncode == 0

    env = kernel_env(plain.env, bare_env, "/usr/bin:/bin")
    with kernel(bare_env, env, repo, plain.root / "k.json") as k:
        committed = k.run("!git commit")
        assert committed.rc not in ("", "0"), committed.output
        assert "pass -m MESSAGE or --no-edit" in committed.output, committed.output
        amended = k.run("!git commit --amend")
        assert "pass -m MESSAGE or --no-edit" in amended.output, amended.output
        with_message = k.run("!git commit -qm three")
        assert with_message.rc == "0", with_message.output
        rebased = k.run("!git rebase -i HEAD~1")
        assert rebased.rc not in ("", "0"), rebased.output
        assert "run an interactive rebase in a terminal" in rebased.output, rebased.output
    assert rev(plain, repo, "HEAD~1") == head
    status = plain.run(["git", "status", "--porcelain"], cwd=repo).stdout
    assert status == b""
    assert not any((repo / ".git" / name).exists() for name in ("rebase-merge", "MERGE_HEAD"))


def test_a_push_in_a_cell_with_no_helper_to_run_fails_at_once(
    plain: User, git_server: GitServer, bare_env: BareEnv
) -> None:
    work, _, _ = clone(plain, git_server, plain.root / "work")
    commit(plain, work, "a.txt")
    # Named by name (as a hand-written config or an older setup names it): the kernel's
    # PATH has the launcher's folder first, so git finds the helper, which stops it at once.
    named = ["git", "config", "--global", "--replace-all", "credential.helper", "sagemaker"]
    assert plain.run(named).returncode == 0
    env = kernel_env(plain.env, bare_env, "/usr/bin:/bin")
    with kernel(bare_env, env, work, plain.root / "k.json") as k:
        missing = k.run("!git push -q origin HEAD")
        assert missing.rc not in ("", "0"), missing.output
        assert missing.prompts == [] and not waits_for_username(missing.output)
        assert "in a notebook cell run: %git_login" in missing.output, missing.output
        unset = k.run("!git config --global --unset-all credential.helper")
        assert unset.rc == "0", unset.output
        bare = k.run("!git push -q origin HEAD")
        assert bare.rc not in ("", "0"), bare.output
        assert bare.prompts == [] and not waits_for_username(bare.output)
        assert "terminal prompts disabled" in bare.output, bare.output


def test_a_terminal_ipython_gets_the_magics_but_keeps_its_editor(plain: User) -> None:
    done = plain.run(
        [
            str(BIN / "ipython"),
            "--no-banner",
            "-c",
            "import os; print(os.environ.get('GIT_EDITOR'), os.environ.get('GIT_TERMINAL_PROMPT'));"
            "print(get_ipython().find_line_magic('git_unlock') is not None)",
        ],
        env={"GIT_EDITOR": "vi"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split() == ["vi", "None", "True"], done.stdout
