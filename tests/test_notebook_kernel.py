"""End to end in a real Jupyter kernel: `!git push` never hangs a cell, login() prompts there.

A real ipykernel is started with jupyter_client, as JupyterLab would: git in a `!` cell
runs under a pty the user can not type into, so the helper must answer `quit=1` with a
one-line hint instead of letting git prompt. login()/unlock() ask through the kernel's
stdin channel (the notebook's input box), which this test answers like a frontend.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from gitserver import GitServer
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from support import User, merged

KERNEL_START_TIMEOUT = 60.0
CELL_TIMEOUT = 60.0  # a hang detector: a cell waiting on a prompt never ends
LOGIN_HINT = "from git_credential_sagemaker import login; login()"
UNLOCK_HINT = "from git_credential_sagemaker import unlock; unlock()"
NOTEBOOK_PASSPHRASE = "notebook passphrase " + secrets.token_hex(4)


@dataclasses.dataclass(frozen=True)
class Prompt:
    """One input_request the kernel sent to the frontend."""

    text: str
    password: bool


@dataclasses.dataclass
class Cell:
    """What one executed cell showed and asked, as a frontend would see it."""

    output: str
    prompts: list[Prompt]
    status: str
    expressions: dict[str, Any]

    @property
    def exit_code(self) -> str:
        """`_exit_code` of the cell's last `!command`, as the kernel's repr ('0', '128')."""
        value = self.expressions["rc"]
        assert value["status"] == "ok", value
        return str(value["data"]["text/plain"])


class Kernel:
    """A started kernel plus a client that answers input requests from a script."""

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km = km
        self.kc = kc
        self.messages: list[dict[str, Any]] = []  # every iopub message seen, for leak checks

    def run(self, code: str, answers: Sequence[str] = (), timeout: float = CELL_TIMEOUT) -> Cell:
        """Execute `code`, answering input requests in order; bounded by `timeout`."""
        pending = list(answers)
        prompts: list[Prompt] = []
        chunks: list[str] = []
        deadline = time.monotonic() + timeout
        msg_id = self.kc.execute(code, allow_stdin=True, user_expressions={"rc": "_exit_code"})
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            if time.monotonic() > deadline:
                self.km.interrupt_kernel()
                pytest.fail(
                    f"cell did not finish within {timeout} s: {code!r}\n"
                    f"output so far: {''.join(chunks)!r}\nprompts: {prompts!r}"
                )
            try:
                msg = self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                pass
            else:
                self.messages.append(msg)
                if msg["parent_header"].get("msg_id") == msg_id:
                    chunks.append(_text(msg))
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        idle = True
            while self.kc.stdin_channel.msg_ready():
                request = self.kc.get_stdin_msg(timeout=1)
                if request["msg_type"] != "input_request":
                    continue
                content = request["content"]
                prompts.append(Prompt(content["prompt"], bool(content["password"])))
                # An unexpected prompt is recorded and answered empty, so the cell ends.
                self.kc.input(pending.pop(0) if pending else "")
            while reply is None and self.kc.shell_channel.msg_ready():
                shell = self.kc.get_shell_msg(timeout=1)
                if shell["parent_header"].get("msg_id") == msg_id:
                    reply = shell
        return Cell(
            output="".join(chunks),
            prompts=prompts,
            status=reply["content"]["status"],
            expressions=reply["content"].get("user_expressions", {}),
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


@dataclasses.dataclass
class Notebook:
    """A user with a clone of a repo on the loopback server, and a kernel started in it."""

    user: User
    server: GitServer
    username: str
    url: str
    work: Path
    kernel: Kernel

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def commit(self, name: str) -> str:
        (self.work / name).write_text(name)
        assert self.user.run(["git", "add", name], cwd=self.work).returncode == 0
        assert self.user.run(["git", "commit", "-qm", name], cwd=self.work).returncode == 0
        return self.rev(self.work / ".git", "HEAD")

    def rev(self, git_dir: Path, ref: str) -> str:
        done = self.user.run(["git", "--git-dir", str(git_dir), "rev-parse", ref])
        assert done.returncode == 0, done.stderr
        return done.stdout.decode().strip()

    def server_head(self) -> str:
        return self.rev(self.server.repo_path(self.url.rsplit("/", 1)[1]), "main")

    def login(self, token: str) -> Cell:
        """login() in a cell, answered: token, then the new passphrase twice."""
        return self.kernel.run(
            "from git_credential_sagemaker import login\n"
            f"login({self.base_url!r}, username={self.username!r})",
            answers=[token, NOTEBOOK_PASSPHRASE, NOTEBOOK_PASSPHRASE],
        )


def kernel_env(user: User) -> dict[str, str]:
    """The user's env as a notebook server would pass it: no passphrase, prompts allowed."""
    return merged(
        user.env,
        {
            "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None,
            "GIT_TERMINAL_PROMPT": None,
            "IPYTHONDIR": str(user.root / "ipython"),
        },
    )


def agents_gone(user: User, timeout: float = 5.0) -> bool:
    """Whether every agent of this user has exited within `timeout` (exit follows its reply)."""
    deadline = time.monotonic() + timeout
    while user.agent_pids():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def processes_showing(secret: bytes) -> list[str]:
    """Running processes whose argv, or (for our own processes) environment, holds `secret`."""
    hits = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                data = (proc / part).read_bytes()
            except OSError:
                continue
            if secret in data:
                hits.append(f"{proc.name}/{part}: {data[:200]!r}")
    return hits


@pytest.fixture
def notebook(user: User, git_server: GitServer) -> Iterator[Notebook]:
    username = f"alice{secrets.token_hex(3)}"
    url = git_server.create_repo(f"nb-{username}")
    work = user.root / "work"
    # Cloned by path, so nothing is stored and no credentials are involved; then pointed at
    # the server, where every request needs basic auth.
    bare = git_server.repo_path(f"nb-{username}")
    done = user.run(["git", "clone", "-q", str(bare), str(work)])
    assert done.returncode == 0, done.stderr
    done = user.run(["git", "remote", "set-url", "origin", url], cwd=work)
    assert done.returncode == 0, done.stderr
    (user.home / ".gitconfig").write_text("[credential]\n\thelper = sagemaker\n")

    km = KernelManager(kernel_name="python3", connection_file=str(user.root / "kernel.json"))
    km.start_kernel(env=kernel_env(user), cwd=str(work))
    kc: BlockingKernelClient | None = None
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
        yield Notebook(user, git_server, username, url, work, Kernel(km, kc))
    finally:
        if kc is not None:
            kc.stop_channels()
        km.shutdown_kernel(now=True)


def assert_no_hang(cell: Cell) -> None:
    # A cell that waited on a prompt would have failed in Kernel.run, at its deadline.
    assert cell.prompts == [], "git must not ask through the notebook's input box"
    assert "Username for" not in cell.output and "Password for" not in cell.output, (
        "git fell back to its own terminal prompt"
    )


def test_push_from_a_cell_with_nothing_stored_shows_the_login_hint(notebook: Notebook) -> None:
    before = notebook.server_head()
    notebook.commit("a.txt")

    cell = notebook.kernel.run("!git push")

    assert_no_hang(cell)
    assert cell.status == "ok"
    assert cell.exit_code != "0", cell.output
    assert LOGIN_HINT in cell.output, cell.output
    assert "no token stored for 127.0.0.1:" in cell.output, cell.output
    assert notebook.server_head() == before


def test_git_login_magic_prompts_in_the_notebook_then_push_works(notebook: Notebook) -> None:
    token = f"ghp_{secrets.token_hex(12)}"
    notebook.server.allow(notebook.username, token)
    head = notebook.commit("a.txt")

    cell = notebook.kernel.run(
        f"%load_ext git_credential_sagemaker\n%git_login {notebook.base_url} {notebook.username}",
        answers=[token, NOTEBOOK_PASSPHRASE, NOTEBOOK_PASSPHRASE],
    )
    assert cell.status == "ok", cell.output
    assert [p.text for p in cell.prompts][:1] == [
        f"Token for {notebook.username}@127.0.0.1:{notebook.server.port}: "
    ]
    assert len(cell.prompts) == 3 and all(p.password for p in cell.prompts), cell.prompts
    assert "Stored the token" in cell.output, cell.output

    pushed = notebook.kernel.run("!git push")
    assert_no_hang(pushed)
    assert pushed.exit_code == "0", pushed.output
    assert notebook.server_head() == head
    assert token not in notebook.kernel.all_output()


def test_login_in_a_cell_asks_through_the_notebook_then_push_needs_no_prompt(
    notebook: Notebook,
) -> None:
    token = f"ghp_{secrets.token_hex(12)}"
    notebook.server.allow(notebook.username, token)
    head = notebook.commit("a.txt")
    store_path = notebook.user.store_dir

    cell = notebook.login(token)

    assert cell.status == "ok", cell.output
    assert cell.prompts == [
        Prompt(f"Token for {notebook.username}@127.0.0.1:{notebook.server.port}: ", True),
        Prompt(f"Choose a passphrase for {store_path}: ", True),
        Prompt("Confirm the passphrase: ", True),
    ]
    assert re.search(
        r"Stored the token for http://127\.0\.0\.1:\d+ for " + notebook.username, cell.output
    ), cell.output

    pushed = notebook.kernel.run("!git push")
    assert_no_hang(pushed)
    assert pushed.exit_code == "0", pushed.output
    assert notebook.server_head() == head
    assert LOGIN_HINT not in pushed.output and UNLOCK_HINT not in pushed.output

    # The token is nowhere but in the encrypted store and the agent's memory.
    secret = token.encode()
    assert token not in notebook.kernel.all_output()
    assert token not in pushed.output
    stored = [p for p in store_path.rglob("*") if p.is_file()]
    assert stored, "login() must have written the store"
    for path in stored:
        assert secret not in path.read_bytes(), path
        assert NOTEBOOK_PASSPHRASE.encode() not in path.read_bytes(), path
    assert notebook.user.agent_pids(), "login() should leave the keyring unlocked"
    assert processes_showing(secret) == []


def test_push_after_lock_shows_the_unlock_hint_and_unlock_in_a_cell_fixes_it(
    notebook: Notebook,
) -> None:
    token = f"ghp_{secrets.token_hex(12)}"
    notebook.server.allow(notebook.username, token)
    assert notebook.login(token).status == "ok"

    locked = notebook.kernel.run("!git-credential-sagemaker lock")
    assert locked.output.strip() == "locked", locked.output
    assert agents_gone(notebook.user), "lock must end the agent"
    before = notebook.server_head()
    head = notebook.commit("b.txt")

    cell = notebook.kernel.run("!git push")

    assert_no_hang(cell)
    assert cell.exit_code != "0", cell.output
    assert UNLOCK_HINT in cell.output, cell.output
    assert "the keyring is locked" in cell.output, cell.output
    assert notebook.server_head() == before

    unlocked = notebook.kernel.run(
        "from git_credential_sagemaker import unlock\nunlock()", answers=[NOTEBOOK_PASSPHRASE]
    )
    assert unlocked.prompts == [Prompt(f"Passphrase for {notebook.user.store_dir}: ", True)]
    assert "The keyring is unlocked" in unlocked.output, unlocked.output

    pushed = notebook.kernel.run("!git push")
    assert_no_hang(pushed)
    assert pushed.exit_code == "0", pushed.output
    assert notebook.server_head() == head


def test_after_setup_a_cell_finds_the_command_whatever_the_kernels_path(user: User) -> None:
    env = kernel_env(user)
    done = user.run(
        ["git-credential-sagemaker", "setup", "--no-repo", "--name", "A", "--email", "a@e.com"],
        env={"IPYTHONDIR": env["IPYTHONDIR"]},
    )
    assert done.returncode == 0, done.stderr
    env["PATH"] = "/usr/bin:/bin"  # a kernel's own env: our venv is not on it
    km = KernelManager(kernel_name="python3", connection_file=str(user.root / "kernel.json"))
    km.start_kernel(env=env, cwd=str(user.root))
    kc: BlockingKernelClient | None = None
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
        kernel = Kernel(km, kc)
        cell = kernel.run("!git-credential-sagemaker status")
        assert cell.exit_code == "0", cell.output
        assert "not found" not in cell.output and "keyring" in cell.output, cell.output
        again = kernel.run("import os; os.environ['PATH'].split(os.pathsep).count('/bin')")
        assert again.output.strip().endswith("1"), again.output  # the kernel's PATH is kept
    finally:
        if kc is not None:
            kc.stop_channels()
        km.shutdown_kernel(now=True)
