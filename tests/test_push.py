"""End to end: real git pushes to a loopback server that demands basic auth."""

from __future__ import annotations

import secrets
from pathlib import Path

from gitserver import GitServer
from support import PASSPHRASE, Askpass, User


def commit(user: User, work: Path, name: str) -> None:
    (work / name).write_text(name)
    assert user.run(["git", "add", name], cwd=work).returncode == 0
    assert user.run(["git", "commit", "-qm", name], cwd=work).returncode == 0


def test_token_typed_once_then_stored_then_replaced_after_revocation(
    user: User, git_server: GitServer
) -> None:
    name = f"alice{secrets.token_hex(3)}"
    first, second = f"ghp_{secrets.token_hex(12)}", f"ghp_{secrets.token_hex(12)}"
    git_server.allow(name, first)
    url = git_server.create_repo(f"repo-{name}")
    askpass = Askpass(user.root, name, first)
    env = {"GIT_ASKPASS": str(askpass.program)}
    work = user.root / "work"

    cloned = user.git("clone", "-q", url, str(work), env=env)
    assert cloned.returncode == 0, cloned.stderr
    assert len(askpass.prompts) == 2  # username and token, typed once
    commit(user, work, "a.txt")
    pushed = user.git("push", "-q", "origin", "HEAD", cwd=work, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert len(askpass.prompts) == 2, "the second push must not ask again"

    # The token is revoked on the server: git erases it, and the next push asks again.
    git_server.revoke(name)
    git_server.allow(name, second)
    askpass.answer(name, second)
    commit(user, work, "b.txt")
    failed = user.git("push", "-q", "origin", "HEAD", cwd=work, env=env)
    assert failed.returncode != 0
    assert user.helper("get", b"protocol=http\nhost=127.0.0.1:%d\n" % git_server.port).stdout == b""
    again = user.git("push", "-q", "origin", "HEAD", cwd=work, env=env)
    assert again.returncode == 0, again.stderr
    assert len(askpass.prompts) == 4
    assert user.git("push", "-q", "origin", "HEAD", cwd=work, env=env).returncode == 0
    assert len(askpass.prompts) == 4

    # Secrets: nowhere in plaintext on disk, nor in anything git or the helper printed.
    outputs = b"".join(p.stdout + p.stderr for p in (cloned, pushed, failed, again))
    for secret in (first, second, PASSPHRASE):
        assert secret.encode() not in outputs
        for path in user.store_dir.rglob("*"):
            assert secret.encode() not in path.read_bytes(), path


def test_a_token_the_host_rejects_is_named_as_removed_with_the_login_that_replaces_it(
    user: User, git_server: GitServer
) -> None:
    name = f"bob{secrets.token_hex(3)}"
    token = f"ghp_{secrets.token_hex(12)}"
    git_server.allow(name, token)
    url = git_server.create_repo(f"repo-{name}")
    askpass = Askpass(user.root, name, token)
    env = {"GIT_ASKPASS": str(askpass.program)}
    work = user.root / "work"
    assert user.git("clone", "-q", url, str(work), env=env).returncode == 0
    login = f"git-credential-sagemaker login http://127.0.0.1:{git_server.port} --username {name}"

    # Without an agent (the passphrase from the environment), then with one (after unlock).
    for unlocked in (False, True):
        git_server.revoke(name)
        commit(user, work, f"revoked-{unlocked}.txt")
        failed = user.git("push", "-q", "origin", "HEAD", cwd=work)
        assert failed.returncode != 0
        said = failed.stderr.decode()
        assert "rejected the stored token, so it was removed" in said, said
        assert login in said, said
        assert token not in said and PASSPHRASE not in said
        git_server.allow(name, token)
        assert user.git("push", "-q", "origin", "HEAD", cwd=work, env=env).returncode == 0
        if not unlocked:
            user.env.pop("GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE")
            askpass.answer(name, PASSPHRASE)
            prompts = {**env, "GIT_TERMINAL_PROMPT": None}
            done = user.run(["git-credential-sagemaker", "unlock"], env=prompts)
            assert done.returncode == 0, done.stderr
            askpass.answer(name, token)
            assert user.agent_pids()
