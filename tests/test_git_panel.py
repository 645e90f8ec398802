"""The JupyterLab Git panel (jupyterlab-git) pushing and pulling through the helper.

A real Jupyter server with the extension runs git, as it does on a notebook instance; each
test sends the requests that the panel's buttons and its credentials dialog send, and the
loopback git server, which demands basic auth, is the remote:

    Push button     POST /git/<repo>/push {}            git runs with GIT_TERMINAL_PROMPT=0
    its dialog      POST /git/<repo>/push {"auth": ..}  git reruns on a pseudo-terminal that
                                                        answers only Username/Password prompts

Locked means a token is stored and no agent holds the key; unlocked means `unlock` ran first.
A request that gets no answer within jupyterserver.HANG_LIMIT fails the test as a hang.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitserver import GitServer
from jupyterserver import JupyterServer
from support import PASSPHRASE, Askpass, User, merged

# Each test starts a Jupyter server: slower than most, bounded all the same.
pytestmark = pytest.mark.timeout(300)

REPO = "repo"  # the repository's path under the Jupyter server's root, as the panel names it
PROG = "git-credential-sagemaker"


@dataclasses.dataclass
class Panel:
    """A user with a clone on the loopback server, and a Jupyter server rooted above it."""

    user: User
    remote: GitServer
    jupyter: JupyterServer
    username: str
    token: str
    url: str
    work: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.remote.port}"

    @property
    def keyring(self) -> Path:
        return self.user.store_dir / "keyring.cfg"

    def dialog(self, token: str | None = None, cache: bool = False) -> dict[str, object]:
        """What the panel's credentials dialog sends: username, token, 'save my login'."""
        return {
            "username": self.username,
            "password": self.token if token is None else token,
            "cache_credentials": cache,
        }

    def store_token(self) -> None:
        """A token stored the way git stores it, with no agent left running: locked."""
        request = f"protocol=http\nhost={self.host}\nusername={self.username}\n"
        done = self.user.helper("store", f"{request}password={self.token}\n".encode())
        assert done.returncode == 0, done.stderr
        assert self.user.agent_pids() == []

    def unlock(self) -> None:
        """`git-credential-sagemaker unlock` in a terminal: an agent holds the key after it."""
        askpass = Askpass(self.user.root, "unused", PASSPHRASE)
        done = self.user.run(
            [PROG, "unlock"],
            env={
                "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None,
                "GIT_TERMINAL_PROMPT": None,
                "GIT_ASKPASS": str(askpass.program),
            },
        )
        assert done.returncode == 0, done.stderr
        assert self.user.agent_pids(), "unlock left no agent"

    def commit(self, name: str) -> str:
        (self.work / name).write_text(name)
        self.user.run(["git", "add", name], cwd=self.work)
        assert self.user.run(["git", "commit", "-qm", name], cwd=self.work).returncode == 0
        return self.rev(self.work / ".git", "HEAD")

    def rev(self, git_dir: Path, ref: str) -> str:
        done = self.user.run(["git", "--git-dir", str(git_dir), "rev-parse", ref])
        assert done.returncode == 0, done.stderr
        return done.stdout.decode().strip()

    def remote_head(self) -> str:
        return self.rev(self.remote.repo_path(self.url.rsplit("/", 1)[1]), "main")

    def someone_else_pushes(self, name: str) -> str:
        """A colleague's commit reaches the remote (by path: no credentials involved)."""
        other = self.user.root / "colleague"
        bare = self.remote.repo_path(self.url.rsplit("/", 1)[1])
        assert self.user.run(["git", "clone", "-q", str(bare), str(other)]).returncode == 0
        (other / name).write_text(name)
        self.user.run(["git", "add", name], cwd=other)
        assert self.user.run(["git", "commit", "-qm", name], cwd=other).returncode == 0
        assert self.user.run(["git", "push", "-q", "origin", "HEAD"], cwd=other).returncode == 0
        return self.rev(other / ".git", "HEAD")

    def secrets_nowhere(self, *texts: str) -> None:
        """Neither the token nor the passphrase in these texts or the server's log."""
        for secret in (self.token, PASSPHRASE):
            for text in (*texts, self.jupyter.text):
                assert secret not in text


def server_env(user: User) -> dict[str, str]:
    """The user's environment as a Jupyter server has it: no passphrase, no prompt setting."""
    return merged(
        user.env, {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None, "GIT_TERMINAL_PROMPT": None}
    )


@pytest.fixture
def panel(user: User, git_server: GitServer) -> Iterator[Panel]:
    username = f"alice{secrets.token_hex(3)}"
    token = f"ghp_{secrets.token_hex(18)}"
    git_server.allow(username, token)
    url = git_server.create_repo(f"panel-{username}")
    lab = user.root / "lab"
    lab.mkdir()
    work = lab / REPO
    # Cloned by path, so nothing is stored yet; then pointed at the server, which wants auth.
    bare = git_server.repo_path(f"panel-{username}")
    assert user.run(["git", "clone", "-q", str(bare), str(work)]).returncode == 0
    assert user.run(["git", "remote", "set-url", "origin", url], cwd=work).returncode == 0
    (user.home / ".gitconfig").write_text("[credential]\n\thelper = sagemaker\n")
    with JupyterServer(user.root, server_env(user), lab) as jupyter:
        git_server.clear_records()  # the server is shared: only this test's requests count
        yield Panel(user, git_server, jupyter, username, token, url, work)
        assert jupyter.running_git == [], "a git run of the panel is still waiting"


def test_unlocked_the_panel_pushes_and_pulls_without_asking(panel: Panel) -> None:
    panel.store_token()
    panel.unlock()
    mine = panel.commit("mine.txt")

    pushed = panel.jupyter.push(REPO)
    assert (pushed.status, pushed.body.get("code")) == (200, 0), pushed.body
    assert panel.remote_head() == mine

    theirs = panel.someone_else_pushes("theirs.txt")
    pulled = panel.jupyter.pull(REPO)
    assert (pulled.status, pulled.body.get("code")) == (200, 0), pulled.body
    assert panel.rev(panel.work / ".git", "HEAD") == theirs
    assert panel.remote.auth_attempts, "the remote was never asked"
    assert {(a.username, a.ok) for a in panel.remote.auth_attempts} == {(panel.username, True)}
    panel.secrets_nowhere(pushed.message, pulled.message)


def test_locked_with_a_token_stored_the_panel_shows_how_to_unlock_not_the_dialog(
    panel: Panel,
) -> None:
    panel.store_token()
    before = panel.keyring.read_bytes()
    panel.commit("a.txt")
    old_head = panel.remote_head()

    for reply in (panel.jupyter.push(REPO), panel.jupyter.pull(REPO)):
        # An error the panel shows as it is: it opens its dialog only for the auth failures it
        # knows (jupyterlab-git's AUTH_ERROR_MESSAGES), and typing the stored token again
        # would not unlock anything.
        assert reply.status != 200 and not reply.opens_dialog, reply
        ours = [line for line in reply.message.splitlines() if line.startswith(f"{PROG}:")]
        assert ours == [
            f"{PROG}: the keyring is locked, so the Git panel can't use the token stored for "
            f"this host; unlock it with %git_unlock in a notebook cell, or in a terminal run: "
            f"{PROG} unlock"
        ], reply.message
        panel.secrets_nowhere(reply.message)

    assert panel.remote_head() == old_head
    assert panel.keyring.read_bytes() == before
    assert panel.user.agent_pids() == []


def test_locked_the_dialogs_token_is_kept_sealed_and_saved_at_the_next_unlock(
    panel: Panel,
) -> None:
    # A keyring with a token for another host, locked: nothing is stored for this one.
    other = "protocol=https\nhost=elsewhere.example\nusername=u\npassword=ghp_elsewhere\n"
    assert panel.user.helper("store", other.encode()).returncode == 0
    new_token = f"ghp_{secrets.token_hex(18)}"
    panel.remote.allow(panel.username, new_token)
    mine = panel.commit("mine.txt")
    assert panel.jupyter.push(REPO).opens_dialog

    pushed = panel.jupyter.push(REPO, auth=panel.dialog(token=new_token, cache=True))
    assert (pushed.status, pushed.body.get("code")) == (200, 0), pushed.body
    assert panel.remote_head() == mine

    # Kept sealed, with nothing asked and nothing unlocked; "save my login" left our helper
    # as git's only one.
    status = panel.user.run([PROG, "status"]).stdout.decode()
    assert "inbox:    1 token waiting for unlock" in status, status
    assert new_token.encode() not in panel.keyring.read_bytes()
    assert panel.user.agent_pids() == []
    helpers = panel.user.run(["git", "config", "--get-all", "credential.helper"], cwd=panel.work)
    assert helpers.stdout.decode().split() == ["sagemaker"]
    notes = [line for line in panel.jupyter.text.splitlines() if "kept sealed" in line]
    assert notes and all(f"{PROG} unlock" in note for note in notes), panel.jupyter.text

    theirs = panel.someone_else_pushes("theirs.txt")
    assert panel.jupyter.pull(REPO).opens_dialog
    pulled = panel.jupyter.pull(REPO, auth=panel.dialog(token=new_token))
    assert (pulled.status, pulled.body.get("code")) == (200, 0), pulled.body
    assert panel.rev(panel.work / ".git", "HEAD") == theirs

    # The next unlock takes the token in: the panel asks no more.
    panel.unlock()
    assert "inbox:" not in panel.user.run([PROG, "status"]).stdout.decode()
    request = f"protocol=http\nhost={panel.host}\nusername={panel.username}\n".encode()
    assert f"password={new_token}".encode() in panel.user.helper("get", request).stdout
    panel.commit("after.txt")
    again = panel.jupyter.push(REPO)
    assert (again.status, again.body.get("code")) == (200, 0), again.body
    panel.secrets_nowhere(pushed.message, pulled.message, again.message)


def test_with_nothing_stored_the_dialog_pushes_without_hanging(panel: Panel) -> None:
    mine = panel.commit("mine.txt")
    assert panel.jupyter.push(REPO).opens_dialog

    pushed = panel.jupyter.push(REPO, auth=panel.dialog())
    assert (pushed.status, pushed.body.get("code")) == (200, 0), pushed.body
    assert panel.remote_head() == mine
    assert not panel.keyring.exists(), "no keyring without a passphrase chosen in a terminal"
    panel.secrets_nowhere(pushed.message)


def test_unlocked_the_dialogs_new_token_is_saved_and_the_next_push_needs_no_dialog(
    panel: Panel,
) -> None:
    other = b"protocol=https\nhost=example.com\nusername=bob\npassword=unrelated\n"
    assert panel.user.helper("store", other).returncode == 0  # a keyring, nothing for this host
    panel.unlock()
    panel.commit("first.txt")
    assert panel.jupyter.push(REPO).opens_dialog

    pushed = panel.jupyter.push(REPO, auth=panel.dialog())
    assert (pushed.status, pushed.body.get("code")) == (200, 0), pushed.body

    second = panel.commit("second.txt")
    again = panel.jupyter.push(REPO)
    assert (again.status, again.body.get("code")) == (200, 0), again.body
    assert panel.remote_head() == second
    panel.secrets_nowhere(pushed.message, again.message)


def test_locked_a_wrong_token_in_the_dialog_fails_without_hanging_and_keeps_the_stored_one(
    panel: Panel,
) -> None:
    panel.store_token()
    before = panel.keyring.read_bytes()
    old_head = panel.remote_head()
    panel.commit("a.txt")

    wrong = panel.jupyter.push(REPO, auth=panel.dialog(token=f"ghp_{secrets.token_hex(18)}"))
    assert wrong.status == 500 and wrong.body.get("code") != 0, wrong.body
    assert "Authentication failed" in wrong.message
    assert panel.remote_head() == old_head
    # git's erase of the wrong token waits in the inbox; it removes no other token.
    assert panel.keyring.read_bytes() != before
    panel.unlock()
    request = f"protocol=http\nhost={panel.host}\nusername={panel.username}\n".encode()
    assert f"password={panel.token}".encode() in panel.user.helper("get", request).stdout
    panel.secrets_nowhere(wrong.message)


def test_with_a_github_app_and_nothing_stored_the_panel_fails_fast_naming_the_sign_in(
    panel: Panel,
) -> None:
    # No agent runs, so nothing contacts the App's OAuth base: it only has to be configured.
    with (panel.user.home / ".gitconfig").open("a") as config:
        config.write(
            f'[credential "http://{panel.host}"]\n'
            "\tsagemakerOAuthClientId = Iv1.panel\n"
            "\tsagemakerOAuthUrl = http://127.0.0.1:9\n"
        )
    panel.commit("mine.txt")
    old_head = panel.remote_head()

    reply = panel.jupyter.push(REPO)

    ours = [line for line in reply.message.splitlines() if line.startswith(f"{PROG}:")]
    assert ours == [
        f"{PROG}: no token stored for {panel.host}; the Git panel asks for a username and token "
        f"instead, or in a terminal run: {PROG} login --device http://{panel.host}"
    ], reply.message
    assert panel.remote_head() == old_head
