"""The passphrase and the keyring file, as a user meets them: a damaged file, a forgotten
passphrase (`reset`), `login` that asks only what it must, and the first passphrase prompt.

Every command is the real CLI in a subprocess; terminals are real pseudo-terminals (pexpect).
"""

from __future__ import annotations

import configparser
import re
import secrets
import shlex
import stat
import time
from pathlib import Path

import pexpect
import pytest
from gitserver import GitServer
from support import PASSPHRASE, Askpass, Env, User, helped_clone

from git_credential_sagemaker.credential.store import SETTINGS, Store
from git_credential_sagemaker.errors import WrongPassphrase

PROG = "git-credential-sagemaker"
GH = b"protocol=https\nhost=github.com\n"
GL = b"protocol=https\nhost=gitlab.com\n"
HOST = "git.example.com"  # not GitHub: login never contacts anything for it
TTY = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None, "GIT_TERMINAL_PROMPT": None}
IN_A_CELL = {"JPY_PARENT_PID": "1", "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
# A kernel where the startup file ran, so %git_login exists whatever the kernel's env.
WITH_MAGICS = {**IN_A_CELL, "GIT_CREDENTIAL_SAGEMAKER_MAGICS": "1"}


def store(user: User, request: bytes, token: str) -> None:
    done = user.helper("store", request + f"username=alice\npassword={token}\n".encode())
    assert done.returncode == 0, done.stderr


def answer(user: User, request: bytes, env: Env | None = None) -> str:
    """The password `get` answers with ('' for none)."""
    done = user.helper("get", request, env=env)
    assert done.returncode == 0, done.stderr
    fields = dict(line.split("=", 1) for line in done.stdout.decode().splitlines())
    return fields.get("password", "")


def one_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    return text.strip()


def files_hold(directory: Path, secret: str) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def spawn(user: User, *args: str, env: Env | None = None) -> pexpect.spawn:
    """The CLI at a real terminal: no passphrase in the environment, prompts allowed."""
    changes = {**TTY, **(env or {})}
    full = {k: v for k, v in {**user.env, **changes}.items() if v is not None}
    return pexpect.spawn(
        PROG, list(args), cwd=str(user.root), env=full, timeout=30, encoding="utf-8"
    )


def finish(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return str(child.before)


def unlock_with_agent(user: User) -> None:
    """Unlock as a person would (a prompt, here askpass), so an agent holds the key."""
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    done = user.run([PROG, "unlock"], env={**TTY, "GIT_ASKPASS": str(askpass.program)})
    assert done.returncode == 0, done.stderr
    assert user.agent_pids()


def wait_for_no_agent(user: User) -> list[int]:
    """The user's agents once none is left, or those still there after 10 s."""
    deadline = time.monotonic() + 10
    while user.agent_pids() and time.monotonic() < deadline:
        time.sleep(0.02)
    return user.agent_pids()


# --- the last good file, kept beside it -------------------------------------------------------


def test_each_write_keeps_the_previous_file_as_an_encrypted_private_backup(user: User) -> None:
    store(user, GH, "ghp_first_token")
    keyring = user.store_dir / "keyring.cfg"
    backup = user.store_dir / "keyring.cfg.bak"
    assert not backup.exists()  # nothing came before the first write
    first = keyring.read_bytes()

    store(user, GL, "glpat_second_token")

    assert backup.read_bytes() == first
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert files_hold(user.store_dir, "ghp_first_token") == []
    assert files_hold(user.store_dir, "glpat_second_token") == []
    assert files_hold(user.store_dir, PASSPHRASE) == []
    # The backup opens with the same passphrase and holds what the store held before.
    restored = user.root / "restored"
    restored.mkdir(mode=0o700)
    (restored / "keyring.cfg").write_bytes(backup.read_bytes())
    (restored / "keyring.cfg").chmod(0o600)
    hosts = {e.host for e in Store(restored, passphrase=lambda new: PASSPHRASE).entries()}
    assert hosts == {"github.com"}


def test_the_backup_is_never_taken_for_the_store(user: User) -> None:
    store(user, GH, "ghp_first_token")
    store(user, GL, "glpat_second_token")
    keyring = user.store_dir / "keyring.cfg"
    keyring.rename(user.root / "elsewhere.cfg")

    listed = user.run([PROG, "list"])
    assert listed.returncode == 0 and listed.stdout.decode().strip() == "no tokens stored"
    assert answer(user, GH) == ""


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda raw: b"", "it is empty"),
        (lambda raw: b"\xff\xfe" + raw, "it is not text"),
        (lambda raw: raw.replace(b"[keyring_2Dsetting]", b"[settings]"), "not a keyring file"),
        (lambda raw: b"garbage without sections\n", "not a keyring file"),
    ],
    ids=["empty", "binary", "no-settings-section", "not-ini"],
)
def test_a_damaged_file_says_what_happened_and_the_command_that_restores_it(
    user: User, damage: object, said: str
) -> None:
    store(user, GH, "ghp_first_token")
    store(user, GL, "glpat_second_token")
    keyring = user.store_dir / "keyring.cfg"
    backup = user.store_dir / "keyring.cfg.bak"
    kept = backup.read_bytes()
    keyring.write_bytes(damage(keyring.read_bytes()))  # type: ignore[operator]
    damaged = keyring.read_bytes()

    for op in ("get", "store", "erase"):
        done = user.helper(op, GH + b"username=alice\npassword=ghp_other\n")
        line = one_line(done.stderr)
        assert done.returncode == 1 and done.stdout == b""
        assert said in line and str(keyring) in line, line
        for jargon in ("No section", "codec", "keyring_2Dsetting", "MissingSectionHeader"):
            assert jargon not in line, line
    assert keyring.read_bytes() == damaged  # nothing was written over it
    assert backup.read_bytes() == kept  # and a file that did not parse never became the backup

    # The line ends with the command that fixes it; run exactly that.
    fix = line.split("run: ", 1)[1]
    assert fix == f"mv {shlex.quote(str(backup))} {shlex.quote(str(keyring))}"
    assert user.run(["sh", "-c", fix]).returncode == 0
    assert answer(user, GH) == "ghp_first_token"


def test_a_damaged_file_without_a_good_backup_names_reset_which_keeps_it(user: User) -> None:
    store(user, GH, "ghp_first_token")
    keyring = user.store_dir / "keyring.cfg"
    keyring.write_bytes(b"\xff" * 64)

    line = one_line(user.helper("get", GH).stderr)
    assert "is unreadable: it is not text" in line, line
    fix = line.split("run: ", 1)[1]
    assert fix == f"{PROG} --dir {shlex.quote(str(user.store_dir))} reset"
    done = user.run([*shlex.split(fix), "--yes"])
    assert done.returncode == 0, done.stderr
    assert "the file can't be read" in done.stdout.decode()
    (aside,) = user.store_dir.glob("keyring.cfg.reset-*")
    assert aside.read_bytes() == b"\xff" * 64
    # A new keyring starts on the next store.
    store(user, GH, "ghp_new_token")
    assert answer(user, GH) == "ghp_new_token"


# --- reset: a forgotten passphrase ------------------------------------------------------------


def test_reset_moves_the_keyring_aside_stops_the_agent_and_says_what_was_lost(
    user: User,
) -> None:
    store(user, GH, "ghp_first_token")
    store(user, GL, "glpat_second_token")
    keyring = user.store_dir / "keyring.cfg"
    before = keyring.read_bytes()
    backup_before = (user.store_dir / "keyring.cfg.bak").read_bytes()
    unlock_with_agent(user)

    done = user.run([PROG, "reset", "--yes"])

    out = done.stdout.decode()
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert "lost: 2 tokens (for github.com, gitlab.com)" in out, out
    assert "the unlock agent was stopped" in out, out
    assert wait_for_no_agent(user) == []
    assert not keyring.exists() and not (user.store_dir / "keyring.cfg.bak").exists()
    (aside,) = re.findall(r"^moved \S+/keyring\.cfg to (\S+)$", out, re.MULTILINE)
    assert re.fullmatch(r".*/keyring\.cfg\.reset-\d{8}T\d{6}Z", aside), aside
    assert Path(aside).read_bytes() == before
    assert Path(aside + ".bak").read_bytes() == backup_before
    assert "locked" in user.run([PROG, "status"]).stdout.decode()
    assert answer(user, GH, env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}) == ""

    # The undo line it printed brings everything back with the old passphrase.
    undo = out.strip().splitlines()[-1].split("with: ", 1)[1]
    assert user.run(["sh", "-c", undo]).returncode == 0
    assert answer(user, GH) == "ghp_first_token"


def test_reset_at_a_terminal_asks_first_and_no_changes_nothing(user: User) -> None:
    store(user, GH, "ghp_first_token")
    keyring = user.store_dir / "keyring.cfg"
    before = keyring.read_bytes()

    child = spawn(user, "reset")
    child.expect(r"losing 1 token \(for github\.com\)")
    child.expect(r"Reset the keyring\? \[y/N\] ")
    child.sendline("n")
    rest = finish(child)
    assert child.exitstatus == 1 and "nothing was changed" in rest, rest
    assert keyring.read_bytes() == before

    child = spawn(user, "reset")
    child.expect(r"Reset the keyring\? \[y/N\] ")
    child.sendline("y")
    rest = finish(child)
    assert child.exitstatus == 0, rest
    assert not keyring.exists() and len(list(user.store_dir.glob("keyring.cfg.reset-*"))) == 1


def test_reset_in_a_notebook_cell_says_what_to_run_instead_of_asking(user: User) -> None:
    store(user, GH, "ghp_first_token")
    keyring = user.store_dir / "keyring.cfg"
    before = keyring.read_bytes()

    done = user.run([PROG, "reset"], env=WITH_MAGICS)
    line = one_line(done.stderr)
    assert done.returncode == 1 and keyring.read_bytes() == before
    assert "losing 1 token (for github.com)" in line, line
    assert line.endswith(f"in a cell, run: !{PROG} reset --yes"), line

    again = user.run(shlex.split(line.rsplit("!", 1)[1]), env=WITH_MAGICS)
    assert again.returncode == 0, again.stderr
    assert not keyring.exists()
    assert "%git_login" in again.stdout.decode()


def test_reset_with_nothing_stored_changes_nothing(user: User) -> None:
    done = user.run([PROG, "reset", "--yes"])
    assert done.returncode == 0 and "nothing to reset" in done.stdout.decode(), done.stderr
    assert not user.store_dir.exists() or list(user.store_dir.glob("keyring.cfg*")) == []


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({}, "in a terminal run: git-credential-sagemaker login"),
        (WITH_MAGICS, "in a notebook cell run: %git_login"),
    ],
)
def test_unlock_with_nothing_stored_says_where_to_log_in(user: User, env: Env, where: str) -> None:
    done = user.run([PROG, "unlock"], env=env)
    err = done.stderr.decode()
    assert done.returncode == 1 and err.count("\n") == 1, err
    assert "nothing is stored yet" in err and where in err, err


# --- login ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--expires", "yesterday"], "--expires wants YYYY-MM-DD"),
        (["--expires", "2001-01-01"], "is in the past"),
        (["--username", ""], "not a username"),
        (["--username", "a\tb"], "not a username"),
        (["http://"], "not a URL or host name"),
    ],
)
def test_login_rejects_its_arguments_before_asking_anything(
    user: User, args: list[str], said: str
) -> None:
    store(user, GH, "ghp_first_token")  # a keyring exists: a passphrase would be asked too
    target = [] if args[0].startswith("http") else [HOST]
    child = spawn(user, "login", *target, *args)
    rest = finish(child)
    assert child.exitstatus == 1 and said in rest, rest
    for prompt in ("Username", "Token", "assphrase"):
        assert prompt not in rest, rest


def test_login_asks_nothing_when_the_keyring_file_is_damaged(user: User) -> None:
    store(user, GH, "ghp_first_token")
    (user.store_dir / "keyring.cfg").write_bytes(b"")
    child = spawn(user, "login", HOST, "--username", "bob")
    rest = finish(child)
    assert child.exitstatus == 1 and "is unreadable: it is empty" in rest, rest
    assert "Token" not in rest and "assphrase" not in rest, rest


def test_login_while_unlocked_asks_only_for_the_token(user: User) -> None:
    store(user, GH, "ghp_first_token")
    unlock_with_agent(user)
    (agent,) = user.agent_pids()
    token = f"tok_{secrets.token_hex(12)}"

    child = spawn(user, "login", HOST, "--username", "bob")
    child.expect(f"Token for bob@{HOST}: ")
    child.sendline(token)
    rest = finish(child)

    assert child.exitstatus == 0 and f"stored the token for https://{HOST} for bob" in rest, rest
    assert "assphrase" not in rest and token not in rest, rest
    assert user.agent_pids() == [agent]
    request = f"protocol=https\nhost={HOST}\n".encode()
    assert answer(user, request, env=TTY) == token  # from the agent
    assert files_hold(user.store_dir, token) == []
    on_disk = Store(user.store_dir, passphrase=lambda new: PASSPHRASE)
    (entry,) = [e for e in on_disk.entries() if e.host == HOST]
    assert on_disk.secrets(entry)["password"] == token


def test_login_while_locked_asks_for_the_passphrase_once(user: User) -> None:
    store(user, GH, "ghp_first_token")
    token = f"tok_{secrets.token_hex(12)}"
    child = spawn(user, "login", HOST, "--username", "bob")
    child.expect(f"Token for bob@{HOST}: ")
    child.sendline(token)
    child.expect("Passphrase for ")
    child.sendline(PASSPHRASE)
    rest = finish(child)
    assert child.exitstatus == 0 and "assphrase" not in rest, rest
    assert user.agent_pids()  # and it stays unlocked


@pytest.mark.parametrize(
    ("args", "env", "route"),
    [
        ([], WITH_MAGICS, "%git_login"),
        ([HOST, "--username", "bob"], WITH_MAGICS, f"%git_login {HOST} bob"),
        (
            [HOST, "--username", "bob"],
            IN_A_CELL,  # no startup file: the package imported into the kernel
            f"from git_credential_sagemaker import login; login('{HOST}', 'bob')",
        ),
    ],
    ids=["magic", "magic-with-arguments", "import"],
)
def test_login_in_a_notebook_cell_points_to_the_notebook_route(
    user: User, args: list[str], env: Env, route: str
) -> None:
    done = user.run([PROG, "login", *args], env=env)
    line = one_line(done.stderr)
    assert done.returncode == 1 and line.endswith(f"in a cell, run: {route}"), line
    assert "no username given" not in line
    assert not (user.store_dir / "keyring.cfg").exists()


def test_login_without_a_terminal_says_where_to_run_it(user: User) -> None:
    done = user.run([PROG, "login", HOST, "--username", "bob"])  # GIT_TERMINAL_PROMPT=0
    line = one_line(done.stderr)
    assert done.returncode == 1 and "prompts are turned off here" in line, line


# --- the first passphrase ---------------------------------------------------------------------


@pytest.fixture
def clone(user: User, git_server: GitServer) -> tuple[Path, str, str]:
    """A clone whose remote wants a token, git set to use the helper, nothing stored."""
    name = f"kf{secrets.token_hex(3)}"
    token = f"ghp_{secrets.token_hex(12)}"
    git_server.allow(name, token)
    url = git_server.create_repo(f"repo-{name}")
    work = user.root / "work"
    helped_clone(user, git_server.repo_path(f"repo-{name}"), url, work)
    return work, name, token


def push(user: User, work: Path, change: str) -> pexpect.spawn:
    (work / change).write_text(change)
    assert user.run(["git", "add", change], cwd=work).returncode == 0
    assert user.run(["git", "commit", "-qm", change], cwd=work).returncode == 0
    full = {k: v for k, v in {**user.env, **TTY}.items() if v is not None}
    return pexpect.spawn(
        "git",
        ["push", "-q", "origin", "HEAD"],
        cwd=str(work),
        env=full,
        timeout=30,
        encoding="utf-8",
    )


def test_the_first_push_says_what_the_passphrase_protects_before_asking_for_it(
    user: User, clone: tuple[Path, str, str]
) -> None:
    work, name, token = clone
    keyring = user.store_dir / "keyring.cfg"
    child = push(user, work, "one")
    child.expect("Username for '")
    child.sendline(name)
    child.expect("Token for '")
    child.sendline(token)
    child.expect(r"git-credential-sagemaker: choose a passphrase: ([^\r\n]*)\r?\n")
    why = child.match.group(1)
    child.expect("Choose a passphrase for")
    child.sendline(PASSPHRASE)
    child.expect("Confirm the passphrase")
    child.sendline(PASSPHRASE)
    rest = finish(child)
    assert child.exitstatus == 0, rest
    assert f"it encrypts your tokens in {keyring}" in why, why
    assert "asked for it again only after a restart, after `git-credential-sagemaker lock`" in why

    # Asked again after lock: only the passphrase, without the explanation.
    assert user.run([PROG, "lock"]).returncode == 0
    child = push(user, work, "two")
    child.expect("Passphrase for")
    seen = str(child.before)
    child.sendline(PASSPHRASE)
    rest = finish(child)
    assert child.exitstatus == 0 and "choose a passphrase" not in seen + rest, seen + rest
    assert files_hold(user.store_dir, token) == [] and files_hold(user.store_dir, PASSPHRASE) == []


def test_no_explanation_when_no_prompt_can_follow(user: User) -> None:
    request = GH + b"username=alice\npassword=ghp_first_token\n"
    done = user.helper("store", request, env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None})
    assert done.returncode == 1
    assert "choose a passphrase:" not in one_line(done.stderr)


# --- changing the passphrase ------------------------------------------------------------------

NEW_PASSPHRASE = "a passphrase for after the change"


def change_passphrase(
    user: User, new: str, old: str | None = PASSPHRASE, env: Env | None = None
) -> str:
    """`passphrase` at a terminal: the current one (unless KMS opens it), the new one twice."""
    child = spawn(user, "passphrase", env=env)
    if old is not None:
        child.expect("Passphrase for")
        child.sendline(old)
    child.expect("Choose a passphrase")
    child.sendline(new)
    child.expect("Confirm")
    child.sendline(new)
    said = finish(child)
    assert child.exitstatus == 0, said
    return said


def hybrid(header_from: bytes, entries_from: bytes, directory: Path) -> None:
    """A keyring whose settings come from one file and whose entries come from another."""
    parts = []
    for raw in (header_from, entries_from):
        parser = configparser.RawConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(raw.decode())
        parts.append(parser)
    header, entries = parts
    for section in header.sections():
        if section != SETTINGS:
            header.remove_section(section)
    for section in entries.sections():
        if section != SETTINGS:
            header.add_section(section)
            for name, value in entries.items(section):
                header.set(section, name, value)
    directory.mkdir(mode=0o700)
    with (directory / "keyring.cfg").open("w") as f:
        header.write(f)
    (directory / "keyring.cfg").chmod(0o600)


def test_after_a_passphrase_change_no_copy_from_before_opens_what_the_file_holds(
    user: User,
) -> None:
    store(user, GH, "tok-before-the-change")
    store(user, GL, "tok-gitlab")
    unlock_with_agent(user)
    old_agents = user.agent_pids()
    snapshot = (user.store_dir / "keyring.cfg").read_bytes()  # a volume snapshot, say

    said = change_passphrase(user, NEW_PASSPHRASE)

    assert "rotate your tokens" in said and "keyring.cfg.bak" not in said, said
    # The backup is no way back to the old passphrase.
    with_backup = user.root / "backup"
    with_backup.mkdir(mode=0o700)
    (with_backup / "keyring.cfg").write_bytes((user.store_dir / "keyring.cfg.bak").read_bytes())
    (with_backup / "keyring.cfg").chmod(0o600)
    with pytest.raises(WrongPassphrase):
        Store(with_backup, passphrase=lambda new: PASSPHRASE).unlock()
    # The agent holding the old key went; a new one holds the new key, so no one is asked.
    deadline = time.monotonic() + 10
    while set(old_agents) & set(user.agent_pids()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert user.agent_pids() and not set(old_agents) & set(user.agent_pids())
    nobody = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
    assert answer(user, GH, env=nobody) == "tok-before-the-change"
    store(user, GH, "tok-rotated-after-the-change")  # what the old advice said to do

    now = (user.store_dir / "keyring.cfg").read_bytes()
    hybrid(snapshot, now, user.root / "hybrid")
    for request, token in ((GH, "tok-rotated-after-the-change"), (GL, "tok-gitlab")):
        opened = user.helper(
            "get", request, env={"GIT_CREDENTIAL_SAGEMAKER_DIR": str(user.root / "hybrid")}
        )
        assert token.encode() not in opened.stdout and b"password=" not in opened.stdout
        assert "failed authentication" in one_line(opened.stderr)

    user.run([PROG, "lock"])
    assert wait_for_no_agent(user) == []
    new = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": NEW_PASSPHRASE}
    assert user.fill("protocol=https\nhost=github.com\n", **new)["password"] == (
        "tok-rotated-after-the-change"
    )
    assert user.fill("protocol=https\nhost=gitlab.com\n", **new)["password"] == "tok-gitlab"
    old = user.git("credential", "fill", input=GH)
    assert b"wrong passphrase" in old.stderr and b"password=" not in old.stdout
