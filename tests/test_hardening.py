"""Hostile or broken input, as a user meets it: each case is one clear line, never a traceback.

Covers requests git would never send, a keyring file from elsewhere, full or read-only disks,
another user's runtime directory, a file replaced while unlocked, expired tokens, terminal
escapes in stored names, and the package's own layering.
"""

from __future__ import annotations

import ast
import configparser
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import PASSPHRASE, Askpass, User

from git_credential_sagemaker.credential.store import Store

GH = b"protocol=https\nhost=github.com\n"
ROOT = Path(__file__).resolve().parents[1]


def one_line_error(done: subprocess.CompletedProcess[bytes]) -> str:
    """The single stderr line of a failed command (and proof that there was only one)."""
    err = done.stderr.decode()
    assert done.returncode != 0, err
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


def store_token(user: User, token: str = "ghp_stored") -> None:
    done = user.helper("store", GH + f"username=alice\npassword={token}\n".encode())
    assert done.returncode == 0, done.stderr


def askpass_for(user: User, answer: str, name: str = "askpass.sh") -> str:
    program = user.root / name
    program.write_text(f"#!/bin/sh\necho '{answer}'\n")
    program.chmod(0o700)
    return str(program)


@pytest.fixture
def short_home(user: User) -> Iterator[Path]:
    """A home with a short path, as on an instance, so a socket under it fits in 107 bytes."""
    home = Path(tempfile.mkdtemp(prefix="gcs-home-"))
    user.env["HOME"] = str(home)
    try:
        yield home
    finally:
        user.run(["git-credential-sagemaker", "lock"])
        shutil.rmtree(home, ignore_errors=True)


# --- requests git would never send ---------------------------------------------------------


def test_a_url_without_a_scheme_matches_nothing(user: User) -> None:
    store_token(user)
    done = user.helper("get", b"url=evil.example/x\n")
    assert b"ghp_stored" not in done.stdout
    assert "no scheme" in one_line_error(done)


def test_a_malformed_url_is_one_line_not_a_traceback(user: User) -> None:
    store_token(user)
    done = user.helper("get", b"url=https://[oops/x\n")
    assert b"ghp_stored" not in done.stdout
    assert b"Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 1


# --- a keyring file from elsewhere ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kdf_lanes", "0"),
        ("kdf_memory_kib", str(4 * 1024 * 1024)),
        ("kdf_iterations", "100000"),
        ("kdf_iterations", "1e999"),
    ],
)
def test_key_derivation_costs_from_the_file_are_bounded(user: User, field: str, value: str) -> None:
    store_token(user)
    path = user.store_dir / "keyring.cfg"
    text = path.read_text()
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    old = parser.get("keyring_2Dsetting", field)
    path.write_text(text.replace(f"{field} = {old}\n", f"{field} = {value}\n"))
    before = path.read_bytes()
    # A hang or a MemoryError would blow through this bound; a refusal is immediate.
    done = user.run(["git-credential-sagemaker", "get"], input=GH, timeout=60)
    assert "unreadable" in one_line_error(done)
    assert path.read_bytes() == before


# --- I/O failures --------------------------------------------------------------------------


def _file_size_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))


def test_a_full_disk_is_one_line_and_the_old_file_stays(user: User) -> None:
    store_token(user, "ghp_first")
    path = user.store_dir / "keyring.cfg"
    before = path.read_bytes()
    request = GH + b"username=bob\npassword=ghp_second\n"
    done = subprocess.run(
        ["git-credential-sagemaker", "store"],
        input=request,
        capture_output=True,
        env=user.env,
        timeout=60,
        check=False,
        preexec_fn=_file_size_limit,  # a file-size limit stands in for a full disk
    )
    assert "File too large" in one_line_error(done)
    assert b"ghp_second" not in done.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in user.store_dir.iterdir()) == [
        ".gitignore",
        ".lock",
        "keyring.cfg",
    ]


def _can_mount_read_only() -> bool:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(
    shutil.which("unshare") is None or not _can_mount_read_only(),
    reason="needs a private mount namespace to make a read-only directory",
)
def test_a_read_only_store_directory_is_one_line(user: User) -> None:
    store_token(user, "ghp_first")
    path = user.store_dir / "keyring.cfg"
    before = path.read_bytes()
    directory = str(user.store_dir)
    script = (
        'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && '
        "exec git-credential-sagemaker store"
    )
    done = user.run(
        ["unshare", "-m", "sh", "-c", script, "sh", directory],
        input=GH + b"username=bob\npassword=ghp_second\n",
    )
    assert "Read-only file system" in one_line_error(done)
    assert path.read_bytes() == before


# --- the runtime directory -----------------------------------------------------------------


def test_another_users_runtime_directory_is_not_used(user: User, short_home: Path) -> None:
    squatted = user.runtime / "git-credential-sagemaker"
    squatted.mkdir(mode=0o777)
    os.chown(squatted, 65534, 65534)
    store_token(user)
    env = {
        "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None,
        "GIT_TERMINAL_PROMPT": None,
        "GIT_ASKPASS": askpass_for(user, PASSPHRASE),
    }
    done = user.run(["git-credential-sagemaker", "unlock"], env=env)
    assert done.returncode == 0, done.stderr
    assert list(squatted.iterdir()) == []
    sockets = list((short_home / ".cache" / "git-credential-sagemaker-run").glob("agent-*"))
    assert len(sockets) == 1
    # The agent answers from our own directory, and nothing was written into theirs.
    got = user.helper("get", GH, env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None})
    assert b"password=ghp_stored" in got.stdout
    assert list(squatted.iterdir()) == []


# --- a file replaced while unlocked --------------------------------------------------------


def test_a_file_replaced_while_unlocked_says_lock_then_unlock(user: User, short_home: Path) -> None:
    store_token(user)
    env = {
        "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None,
        "GIT_TERMINAL_PROMPT": None,
        "GIT_ASKPASS": askpass_for(user, PASSPHRASE),
    }
    assert user.run(["git-credential-sagemaker", "unlock"], env=env).returncode == 0
    other = user.root / "other-store"
    made = user.run(
        ["git-credential-sagemaker", "--dir", str(other), "store"],
        input=GH + b"username=alice\npassword=ghp_other\n",
        env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "another passphrase"},
    )
    assert made.returncode == 0, made.stderr
    os.replace(other / "keyring.cfg", user.store_dir / "keyring.cfg")
    done = user.helper("get", GH, env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None})
    err = one_line_error(done)
    assert "lock, then unlock" in err and "logout" not in err
    assert b"ghp_" not in done.stdout


# --- expired tokens ------------------------------------------------------------------------


def test_an_expired_token_is_not_answered(user: User) -> None:
    store = Store(user.store_dir, passphrase=lambda new: PASSPHRASE)
    past = str(int(time.time()) - 60)
    store.put(
        {"protocol": "https", "host": "github.com", "path": None, "username": "alice"},
        {"password": "ghp_expired", "password_expiry_utc": past},
    )
    done = user.helper("get", GH)
    assert b"ghp_expired" not in done.stdout
    # erase still removes it
    assert user.helper("erase", GH).returncode == 0
    assert Store(user.store_dir, passphrase=lambda new: PASSPHRASE).entries() == []


def test_an_expired_token_is_not_stored(user: User) -> None:
    past = int(time.time()) - 60
    request = GH + f"username=alice\npassword=ghp_old\npassword_expiry_utc={past}\n".encode()
    assert user.helper("store", request).returncode == 0
    assert not (user.store_dir / "keyring.cfg").exists()
    askpass = Askpass(user.root, "alice", "ghp_old")
    login = user.run(
        ["git-credential-sagemaker", "login", "--username", "alice", "--expires", "2001-01-01"],
        env={"GIT_ASKPASS": str(askpass.program), "GIT_TERMINAL_PROMPT": None},
    )
    assert "in the past" in one_line_error(login)
    assert not (user.store_dir / "keyring.cfg").exists()
    assert askpass.prompts == []  # refused before anything was asked


# --- terminal escapes from a request or the file -------------------------------------------


def test_stored_names_reach_the_terminal_escaped(user: User) -> None:
    host = "evil\x1b]0;owned\x07\x1b[2J.example"
    soon = int(time.time()) + 86400
    request = (
        f"protocol=https\nhost={host}\nusername=al\x1b[1mice\npassword=ghp_x\n"
        f"password_expiry_utc={soon}\n"
    ).encode()
    assert user.helper("store", request).returncode == 0
    listed = user.run(["git-credential-sagemaker", "list"])
    assert listed.returncode == 0 and b"evil" in listed.stdout
    assert b"\x1b" not in listed.stdout and b"\x07" not in listed.stdout
    got = user.helper("get", f"protocol=https\nhost={host}\n".encode())
    assert b"expires on" in got.stderr
    assert b"\x1b" not in got.stderr and b"\x07" not in got.stderr
    logout = user.run(["git-credential-sagemaker", "logout", f"https://{host}"])
    assert b"\x1b" not in logout.stdout + logout.stderr


# --- setup and doctor ----------------------------------------------------------------------


def test_setup_on_a_broken_pre_commit_config_is_one_line(user: User) -> None:
    repo = user.root / "project"
    assert user.run(["git", "init", "-q", str(repo)]).returncode == 0
    (repo / ".pre-commit-config.yaml").write_text("repos: [\n  - {oops\n")
    done = user.run(["git-credential-sagemaker", "setup", "--repo", str(repo)], cwd=repo)
    assert ".pre-commit-config.yaml" in one_line_error(done)


def test_doctor_runs_from_a_source_checkout(user: User) -> None:
    # `python -m` puts the current folder first on sys.path: this runs the checkout's code.
    where = user.run(
        [
            sys.executable,
            "-c",
            "import git_credential_sagemaker.hooks.util as u; print(u.__file__)",
        ],
        cwd=ROOT,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.decode().strip()).resolve() == ROOT / "hooks" / "util.py"
    done = user.run([sys.executable, "-m", "git_credential_sagemaker", "doctor"], cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr
    assert b"Traceback" not in done.stderr and b"fix: " in done.stdout


# --- the package's shape -------------------------------------------------------------------

PACKAGE = ROOT / "git_credential_sagemaker"
LAYERS = {"errors": 0, "children": 0, "hooks": 0, "credential": 1, "provision": 2}
ENTRY = 3  # cli, commands, notebook, __init__, __main__


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2:
        return ENTRY
    return LAYERS.get(parts[1], ENTRY)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    sources = [p for p in PACKAGE.rglob("*.py") if "hooks" not in p.relative_to(PACKAGE).parts]
    for path in sources:
        name = _module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = node.module
                if base.startswith("git_credential_sagemaker"):
                    for alias in node.names:
                        candidate = f"{base}.{alias.name}"
                        found.add(
                            candidate
                            if (ROOT / (candidate.replace(".", "/") + ".py")).exists()
                            else base
                        )
            elif isinstance(node, ast.Import):
                found |= {
                    a.name for a in node.names if a.name.startswith("git_credential_sagemaker")
                }
        graph[name] = {m for m in found if m != name}
    return graph


def test_no_import_runs_up_a_layer() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in _imports().items()
        for target in targets
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    graph = _imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_a_bad_url_with_a_token_inside_is_not_echoed(user: User) -> None:
    done = user.run(
        ["git-credential-sagemaker", "logout", "https://alice:ghp_pasted123@[bad"],
    )
    err = one_line_error(done)
    assert "not a URL" in err and "ghp_pasted123" not in err + done.stdout.decode()
