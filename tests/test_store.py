"""The encrypted keyring file: format, crypto, permissions, and every kind of bad input."""

from __future__ import annotations

import base64
import configparser
import os
import stat
import sys
from pathlib import Path

import pytest
from support import PASSPHRASE, User

from git_credential_sagemaker.credential import crypto, paths, store
from git_credential_sagemaker.credential.store import Store
from git_credential_sagemaker.errors import StoreError, WrongPassphrase

GH = b"protocol=https\nhost=github.com\n"


def keyring(directory: Path, passphrase: str = PASSPHRASE) -> Store:
    return Store(directory, passphrase=lambda new: passphrase)


def test_modes_and_gitignore_whatever_the_umask(user: User) -> None:
    done = user.run(
        ["sh", "-c", "umask 000 && git-credential-sagemaker store"],
        input=GH + b"username=a\npassword=tok-perm\n",
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(user.store_dir.stat().st_mode) == 0o700
    for child in user.store_dir.iterdir():
        assert stat.S_IMODE(child.stat().st_mode) == 0o600, child
    assert (user.store_dir / ".gitignore").read_text() == "*\n"


def test_a_volume_repo_never_commits_the_keyring(user: User) -> None:
    volume = user.store_dir.parent
    user.helper("store", GH + b"username=a\npassword=p\n")
    assert user.run(["git", "init", "-q", str(volume)]).returncode == 0
    user.run(["git", "add", "-A"], cwd=volume)
    listed = user.run(["git", "ls-files"], cwd=volume).stdout
    assert b".git-credential-sagemaker" not in listed


def test_file_records_scheme_version_and_kdf(tmp_path: Path) -> None:
    ring = keyring(tmp_path / "s")
    ring.put(
        {"protocol": "https", "host": "h", "path": None, "username": "u"}, {"password": "tok-rec"}
    )
    config = configparser.RawConfigParser()
    config.read(ring.path)
    settings = dict(config.items("keyring_2Dsetting"))
    assert settings["scheme"] == "argon2id+aes-256-gcm" and settings["version"] == "2"
    assert len(settings["store_id"]) == 32 and settings["data_key_passphrase"]
    assert int(settings["kdf_memory_kib"]) >= 64 * 1024
    assert len(base64.b64decode(settings["kdf_salt"])) >= 16
    assert b"tok-rec" not in ring.path.read_bytes()


def test_each_write_uses_a_fresh_nonce(tmp_path: Path) -> None:
    ring = keyring(tmp_path / "s")
    fields = {"protocol": "https", "host": "h", "path": None, "username": "u"}

    def nonce(section: str, option: str) -> bytes:
        config = configparser.RawConfigParser()
        config.optionxform = str  # type: ignore[assignment,method-assign]
        config.read(ring.path)
        return base64.b64decode(config.get(section, option))[: crypto.NONCE_BYTES]

    nonces = []
    for password in ("same", "other", "same"):
        ring.put(fields, {"password": password})
        (entry,) = ring.entries()
        nonces.append(nonce(entry.section, entry.option))
    nonces.append(nonce(store.SETTINGS, store.CHECK_OPTION))
    assert len(set(nonces)) == 4, nonces


def test_storing_the_same_token_again_does_not_rewrite_the_file(tmp_path: Path) -> None:
    ring = keyring(tmp_path / "s")
    fields = {"protocol": "https", "host": "h", "path": None, "username": "u"}
    ring.put(fields, {"password": "same"})
    inode = ring.path.stat().st_ino
    ring.put(fields, {"password": "same"})
    assert ring.path.stat().st_ino == inode
    ring.put(fields, {"password": "new"})
    assert ring.path.stat().st_ino != inode


def test_wrong_passphrase_is_an_authentication_failure_and_writes_nothing(user: User) -> None:
    user.helper("store", GH + b"username=a\npassword=p\n")
    before = (user.store_dir / "keyring.cfg").read_bytes()
    wrong = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "not it"}
    for op in ("get", "store", "erase"):
        done = user.helper(op, GH + b"username=a\npassword=q\n", env=wrong)
        assert done.returncode == 1
        assert done.stdout == (b"quit=1\n" if op == "get" else b"")  # git asks nothing more
        assert done.stderr.startswith(b"git-credential-sagemaker: wrong passphrase")
        assert len(done.stderr.splitlines()) == 1
    assert (user.store_dir / "keyring.cfg").read_bytes() == before
    with pytest.raises(WrongPassphrase):
        keyring(user.store_dir, "not it").unlock()


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: "garbage without sections\n",  # not INI at all
        lambda text: text.replace("argon2id+aes-256-gcm", "rot13"),  # unknown scheme
        lambda text: text.replace("kdf_memory_kib = 65536", "kdf_memory_kib = 8"),  # downgrade
    ],
)
def test_unreadable_file_is_named_and_never_overwritten(user: User, damage: object) -> None:
    user.helper("store", GH + b"username=a\npassword=p\n")
    path = user.store_dir / "keyring.cfg"
    path.write_text(damage(path.read_text()))  # type: ignore[operator]
    before = path.read_bytes()
    for op in ("store", "get", "erase"):
        done = user.helper(op, GH + b"username=b\npassword=q\n")
        assert done.returncode == 1 and done.stdout == b""
        assert str(path).encode() in done.stderr and b"unreadable" in done.stderr
        assert len(done.stderr.splitlines()) == 1
    assert path.read_bytes() == before


def test_tampered_entry_is_an_error_not_garbage(user: User) -> None:
    user.helper("store", GH + b"username=a\npassword=p\n")
    path = user.store_dir / "keyring.cfg"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("ua = "))
    blob = bytearray(base64.b64decode(lines[at][5:]))
    blob[-1] ^= 1
    lines[at] = "ua = " + base64.b64encode(bytes(blob)).decode()
    path.write_text("\n".join(lines) + "\n")
    done = user.helper("get", GH)
    assert done.returncode == 1 and done.stdout == b""
    assert b"failed authentication" in done.stderr


def test_entries_swapped_between_hosts_are_detected(user: User) -> None:
    user.helper("store", GH + b"username=a\npassword=github-token\n")
    user.helper("store", b"protocol=https\nhost=gitlab.com\nusername=a\npassword=gitlab-tok\n")
    path = user.store_dir / "keyring.cfg"
    text = path.read_text()
    swapped = (
        text.replace("[https_3A_2F_2Fgithub_2Ecom]", "[PLACEHOLDER]")
        .replace("[https_3A_2F_2Fgitlab_2Ecom]", "[https_3A_2F_2Fgithub_2Ecom]")
        .replace("[PLACEHOLDER]", "[https_3A_2F_2Fgitlab_2Ecom]")
    )
    path.write_text(swapped)
    done = user.helper("get", GH)
    assert done.returncode == 1 and b"gitlab-tok" not in done.stdout
    # Even with the metadata moved along, the sealed value is bound to its place.
    config = configparser.RawConfigParser()
    config.optionxform = str  # type: ignore[assignment,method-assign]
    config.read_string(text)
    gh, gl = "https_3A_2F_2Fgithub_2Ecom", "https_3A_2F_2Fgitlab_2Ecom"
    blob_gh, blob_gl = config.get(gh, "ua"), config.get(gl, "ua")
    config.set(gh, "ua", blob_gl)
    config.set(gl, "ua", blob_gh)
    with path.open("w") as handle:
        config.write(handle)
    done = user.helper("get", GH)
    assert done.returncode == 1 and done.stdout == b""
    assert b"failed authentication" in done.stderr


def test_refuses_a_symlinked_store(user: User, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    user.store_dir.parent.mkdir(parents=True)
    user.store_dir.symlink_to(real)
    done = user.helper("store", GH + b"username=a\npassword=p\n")
    assert done.returncode == 1 and b"symlink" in done.stderr
    assert list(real.iterdir()) == []


def test_refuses_a_symlinked_file(tmp_path: Path) -> None:
    ring = keyring(tmp_path / "s")
    ring.put({"protocol": "https", "host": "h", "path": None, "username": "u"}, {"password": "p"})
    target = tmp_path / "target.cfg"
    ring.path.rename(target)
    ring.path.symlink_to(target)
    with pytest.raises(StoreError, match="symlink"):
        keyring(tmp_path / "s").entries()


@pytest.mark.skipif(os.getuid() != 0, reason="changing a file's owner needs root")
def test_refuses_a_store_owned_by_another_user(user: User) -> None:
    user.helper("store", GH + b"username=a\npassword=p\n")
    os.chown(user.store_dir, 65534, 65534)
    done = user.helper("get", GH)
    assert done.returncode == 1 and b"owned by uid 65534" in done.stderr


def test_open_permissions_are_refused_with_the_fix(user: User) -> None:
    user.helper("store", GH + b"username=a\npassword=p\n")
    user.store_dir.chmod(0o755)
    done = user.helper("get", GH)
    assert done.returncode == 1 and done.stdout == b""
    assert f"chmod 700 '{user.store_dir}'".encode() in done.stderr
    user.store_dir.chmod(0o700)
    (user.store_dir / "keyring.cfg").chmod(0o644)
    done = user.helper("get", GH)
    assert b"chmod 600" in done.stderr


def test_lock_wait_is_bounded(tmp_path: Path) -> None:
    import fcntl

    ring = Store(tmp_path / "s", passphrase=lambda new: "x", lock_timeout=0.3)
    ring.put({"protocol": "https", "host": "h", "path": None, "username": "u"}, {"password": "p"})
    with open(ring.directory / ".lock", "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(StoreError, match="held by another process"):
            ring.put(
                {"protocol": "https", "host": "h2", "path": None, "username": "u"},
                {"password": "p"},
            )


def test_key_is_derived_once_per_unlock(tmp_path: Path) -> None:
    calls: list[bool] = []  # each key derivation starts by asking for the passphrase

    def passphrase(new: bool) -> str:
        calls.append(new)
        return PASSPHRASE

    ring = Store(tmp_path / "s", passphrase=passphrase)
    for host in ("a", "b", "c"):
        ring.put(
            {"protocol": "https", "host": host, "path": None, "username": "u"}, {"password": "p"}
        )
    assert [ring.secrets(e)["password"] for e in ring.entries()] == ["p", "p", "p"]
    assert len(calls) == 1


def test_not_chosen_by_keyring_discovery_but_usable_by_name(user: User) -> None:
    # Even imported into the same process, keyring never picks this backend on its own.
    probe = (
        "import keyring, git_credential_sagemaker.credential.backend as s; "
        "print(type(keyring.get_keyring()).__module__)"
    )
    done = user.run([sys.executable, "-c", probe])
    assert done.returncode == 0 and b"git_credential_sagemaker" not in done.stdout
    name = ["-b", "git_credential_sagemaker.credential.backend.FileKeyring"]
    keyring_cli = [sys.executable, "-m", "keyring", *name]
    assert (
        user.run(
            [*keyring_cli, "set", "https://example.com", "bob"], input=b"tok-by-name\n"
        ).returncode
        == 0
    )
    got = user.run([*keyring_cli, "get", "https://example.com", "bob"])
    assert got.stdout == b"tok-by-name\n"
    assert (
        user.helper("get", b"protocol=https\nhost=example.com\n").stdout
        == b"username=bob\npassword=tok-by-name\n"
    )


def test_store_directory_detection() -> None:
    env = {"HOME": "/home/x"}
    assert (
        paths.store_dir(env, notebook_root="/", studio_root="/nope") == "/.git-credential-sagemaker"
    )
    assert (
        paths.store_dir(env, notebook_root="/nope", studio_root="/") == "/.git-credential-sagemaker"
    )
    nowhere = {"notebook_root": "/nope1", "studio_root": "/nope2"}
    assert paths.store_dir(env, **nowhere) == "/home/x/.local/share/git-credential-sagemaker"
    assert (
        paths.store_dir({**env, "XDG_DATA_HOME": "/d"}, **nowhere) == "/d/git-credential-sagemaker"
    )
    assert paths.store_dir({**env, "GIT_CREDENTIAL_SAGEMAKER_DIR": "/o"}, **nowhere) == "/o"
    assert paths.store_dir(env, "/arg", **nowhere) == "/arg"
    assert (
        paths.runtime_dir({"XDG_RUNTIME_DIR": "/run/user/5"})
        == "/run/user/5/git-credential-sagemaker"
    )
    assert paths.runtime_dir({}, uid=5) == "/tmp/git-credential-sagemaker-5"


def test_helper_dir_argument(user: User, tmp_path: Path) -> None:
    other = tmp_path / "other-store"
    done = user.run(
        [
            "git",
            "-c",
            "credential.helper=",
            "-c",
            f"credential.helper=sagemaker --dir {other}",
            "credential",
            "approve",
        ],
        input=GH + b"username=a\npassword=p\n",
    )
    assert done.returncode == 0 and (other / "keyring.cfg").exists()
    assert not user.store_dir.exists()
