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
