"""The helper's hot path: what an unlocked get or store imports, and one agent per store.

git runs the helper twice on every authenticated push or fetch (get, then store), so what
an unlocked request imports is measured against `python -c pass` run the same way in the
same test: only what the package itself adds counts, whatever the Python build imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import PASSPHRASE, Askpass, User

import git_credential_sagemaker
from git_credential_sagemaker import cli, commands
from git_credential_sagemaker.credential import agentclient, paths
from git_credential_sagemaker.provision import launcher

GH = b"protocol=https\nhost=github.com\n"
TOKEN = "ghp_hotpathtoken0123456789"
# What a get or store must not add to a bare interpreter's imports.
SLOW_IMPORTS = {"typing", "socket", "re", "enum", "selectors", "dataclasses", "os"}
HEAVY_PACKAGES = {"keyring", "keyrings", "cryptography", "argparse", "subprocess"}
# A locked store can't answer without these: only an agent can.
NO_PASSPHRASE: dict[str, str | None] = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
MAIN = "from git_credential_sagemaker.cli import program; raise SystemExit(program())"
# On PYTHONPATH, it marks in $PROBE_DIR whether exit hooks and the interpreter's teardown ran.
TEARDOWN_PROBE = """
import atexit
import os


def _mark(name, _open=os.open, _close=os.close, _dir=os.environ["PROBE_DIR"]):
    _close(_open(_dir + "/" + name, os.O_CREAT | os.O_WRONLY, 0o600))


class _Teardown:
    def __del__(self, _mark=_mark):
        _mark("teardown")


probe = _Teardown()
atexit.register(_mark, "atexit")
"""


def imported(stderr: bytes) -> set[str]:
    """The modules named by -X importtime (one line per import)."""
    return {
        line.split("|")[-1].strip()
        for line in stderr.decode().splitlines()
        if line.startswith("import time:")
    }


# Two names of equal length with the same CRC32 (found by a birthday search). CRC32 is
# affine, so the two stay a collision behind any common prefix: two such store paths got
# the same socket name under the old scheme.
CRC32_TWINS = ("store-f25b2f758927", "store-8e700c755852")


def crc32_collision(base: Path) -> tuple[str, str]:
    """Two store paths under `base` with the same CRC32, checked rather than trusted."""
    first, second = (str(base / name) for name in CRC32_TWINS)
    assert first != second and zlib.crc32(first.encode()) == zlib.crc32(second.encode())
    return first, second


def prompting(askpass: Askpass) -> dict[str, str | None]:
    """The passphrase comes from askpass, as when a user unlocks."""
    return {"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None}


@pytest.fixture
def unlocked(user: User) -> Iterator[None]:
    stored = user.helper("store", GH + f"username=alice\npassword={TOKEN}\n".encode())
    assert stored.returncode == 0, stored.stderr
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    env = {**NO_PASSPHRASE, **prompting(askpass)}
    done = user.run(["git-credential-sagemaker", "unlock"], env=env)
    assert done.returncode == 0, done.stderr
    yield
    user.run(["git-credential-sagemaker", "lock"])


def test_store_paths_that_share_a_crc32_get_different_sockets(tmp_path: Path) -> None:
    first, second = crc32_collision(tmp_path.resolve())
    runtime = "/run/user/1000/git-credential-sagemaker"
    one, other = (agentclient.socket_path(runtime, p) for p in (first, second))
    assert one != other
    assert os.path.dirname(one) == runtime and os.path.basename(one).startswith("agent-")
    # The name depends on the store's path alone, so the helper and the agent agree on it.
    assert agentclient.socket_path(runtime, first + "/.") == one


def test_two_stores_with_clashing_checksums_each_keep_their_own_agent(user: User) -> None:
    stores = crc32_collision(user.root.resolve() / "stores")
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    unlock = {**NO_PASSPHRASE, **prompting(askpass)}
    try:
        for n, store in enumerate(stores):
            request = GH + f"username=alice\npassword=ghp_store{n}\n".encode()
            env = {"GIT_CREDENTIAL_SAGEMAKER_DIR": store}
            assert user.helper("store", request, env=env).returncode == 0
            done = user.run(["git-credential-sagemaker", "unlock"], env={**env, **unlock})
            assert done.returncode == 0, done.stderr
        assert len(user.agent_pids()) == 2
        for n, store in enumerate(stores):
            env = {**NO_PASSPHRASE, "GIT_CREDENTIAL_SAGEMAKER_DIR": store}
            got = user.helper("get", GH, env=env)
            assert got.returncode == 0, got.stderr
            assert got.stdout.endswith(f"password=ghp_store{n}\n".encode())
    finally:
        for store in stores:
            user.run(
                ["git-credential-sagemaker", "lock"], env={"GIT_CREDENTIAL_SAGEMAKER_DIR": store}
            )
    assert user.agent_pids() == []


@pytest.mark.parametrize("op", ["get", "store"])
@pytest.mark.parametrize("how", ["launcher", "no site"])
def test_an_unlocked_request_imports_nothing_a_bare_python_does_not(
    user: User, unlocked: None, op: str, how: str
) -> None:
    """`launcher` runs what git runs (the file setup writes, -IS, whatever pip wrote), against
    `python -c pass` with site; `no site` (-S) runs the package from its folder against
    `python -S -c pass`, so what .pth files import into every process counts for neither."""
    keyring_file = user.store_dir / "keyring.cfg"
    inode = keyring_file.stat().st_ino
    env = {**NO_PASSPHRASE, "PYTHONPROFILEIMPORTTIME": "1"}
    if how == "launcher":
        path = str(user.root / "bin" / "git-credential-sagemaker")
        launcher.write(path)
        python, flags = Path(path).read_text().splitlines()[0][2:].split()
        assert flags == "-IS"  # so PYTHONPROFILEIMPORTTIME is ignored: -X says it instead
        baseline = [python, "-X", "importtime", "-c", "pass"]
        helper = [python, flags, "-X", "importtime", path, op]  # what the #! line runs
    else:
        env["PYTHONPATH"] = str(Path(git_credential_sagemaker.__file__).parent.parent)
        baseline = [sys.executable, "-S", "-c", "pass"]
        helper = [sys.executable, "-S", "-c", MAIN, op]
    request = GH + (f"username=alice\npassword={TOKEN}\n".encode() if op == "store" else b"")
    bare = user.run(baseline, env=env)
    assert bare.returncode == 0, bare.stderr
    done = user.run(helper, input=request, env=env)
    assert done.returncode == 0, done.stderr
    if op == "get":
        assert done.stdout.endswith(f"password={TOKEN}\n".encode())
    ours = imported(done.stderr)
    assert "git_credential_sagemaker.credential.agentclient" in ours  # importtime saw us
    added = ours - imported(bare.stderr)
    assert not added & SLOW_IMPORTS, sorted(added)
    assert not {m for m in added if m.split(".")[0] in HEAVY_PACKAGES}, sorted(added)
    # A store of the token already stored goes through the agent and writes nothing.
    assert keyring_file.stat().st_ino == inode


def test_every_user_command_reaches_argparse_and_not_the_helper() -> None:
    # cli dispatches without importing argparse, so it keeps its own list of the commands.
    parser = commands.build_parser()
    (subcommands,) = (a.choices for a in parser._actions if isinstance(a.choices, dict))
    assert sorted(cli.COMMANDS) == sorted(subcommands)
    for name in cli.COMMANDS:
        assert cli.split_helper_args([name]) is None
        assert cli.split_helper_args(["--dir", "/d", name]) is None
    assert cli.split_helper_args(["--dir", "/d", "get"]) == ({"dir": "/d"}, "get")


def test_a_request_only_the_agent_served_exits_without_the_interpreters_teardown(
    user: User, unlocked: None
) -> None:
    probe, marks = user.root / "probe", user.root / "marks"
    probe.mkdir()
    marks.mkdir()
    (probe / "sitecustomize.py").write_text(TEARDOWN_PROBE)
    env = {**NO_PASSPHRASE, "PYTHONPATH": str(probe), "PROBE_DIR": str(marks)}
    program = [sys.executable, "-m", "git_credential_sagemaker", "get"]

    done = user.run(program, input=GH, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f"password={TOKEN}\n".encode())
    assert sorted(p.name for p in marks.iterdir()) == ["atexit"]

    # Nothing stored for this host: the slow path runs, then the interpreter's usual exit.
    (marks / "atexit").unlink()
    done = user.run(program, input=b"protocol=https\nhost=nothing.example\n", env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in marks.iterdir()) == ["atexit", "teardown"]


PATHS = st.lists(st.sampled_from(["", "/", "a", "b", ".", "..", "~", "~x", "é", "-"]), max_size=6)


@given(st.lists(PATHS.map("".join), min_size=1, max_size=4))
def test_the_hot_paths_join_is_os_path_join(parts: list[str]) -> None:
    assert paths.join(*parts) == os.path.join(*parts)


@given(PATHS.map("".join))
def test_the_hot_paths_absolute_is_os_path_abspath_of_expanduser(path: str) -> None:
    assert paths.absolute(path) == os.path.abspath(os.path.expanduser(path))


def test_the_hot_paths_environment_is_os_environ(tmp_path: Path) -> None:
    assert cli.environ() is os.environ  # os is loaded here: the mapping itself
    # Without site, as the launcher runs: read before os is loaded, then compared with it.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from git_credential_sagemaker import cli\n"
        "env = cli.environ(); loaded = 'os' in sys.modules; import os\n"
        "print(loaded, env == dict(os.environ), env['ODD'] == os.environ['ODD'])"
    )
    folder = str(Path(git_credential_sagemaker.__file__).parent.parent)
    env = {"ODD": "caf\udce9 \u00e9", "HOME": str(tmp_path)}  # not UTF-8, then UTF-8
    done = subprocess.run(
        [sys.executable, "-IS", "-c", code, folder], env=env, capture_output=True, check=False
    )
    assert done.stdout.split() == [b"False", b"True", b"True"], done.stderr
