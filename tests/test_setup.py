"""setup, lifecycle-script and doctor on a simulated notebook instance, restart included."""

from __future__ import annotations

import re
import secrets
import shutil
from importlib import metadata
from pathlib import Path

import nbformat
import pexpect
import pytest
from gitserver import GitServer
from instance import BASE_PYTHON, Instance
from support import BIN, IDENTITY, User

from git_credential_sagemaker.provision import launcher

PASSPHRASE = "instance passphrase 7"


def askpass(instance: Instance, username: str, token: str) -> str:
    program = instance.user.root / "askpass.sh"
    program.write_text(
        '#!/bin/sh\ncase "$1" in\n'
        f"  Username*) echo {username} ;;\n"
        f"  Password*) echo {token} ;;\n"
        f"  *assphrase*) echo '{PASSPHRASE}' ;;\n"
        "esac\n"
    )
    program.chmod(0o700)
    return str(program)


@pytest.fixture
def instance(user: User) -> Instance:
    return Instance(user)


def clone_project(instance: Instance, git_server: GitServer) -> tuple[Path, str, str]:
    name = f"sm{secrets.token_hex(3)}"
    token = f"ghp_{secrets.token_hex(12)}"
    git_server.allow(name, token)
    url = git_server.create_repo(f"proj-{name}")
    work = instance.volume / "project"
    assert (
        instance.run(
            "git", "clone", "-q", str(git_server.repo_path(f"proj-{name}")), str(work)
        ).returncode
        == 0
    )
    assert instance.run("git", "remote", "set-url", "origin", url, cwd=work).returncode == 0
    return work, name, token


def save_notebook(path: Path, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))


def test_setup_then_restart_needs_only_the_passphrase(
    instance: Instance, git_server: GitServer
) -> None:
    work, name, token = clone_project(instance, git_server)

    # 1. Setup on a fresh instance, then a first push whose token comes from askpass.
    done = instance.run(
        "git-credential-sagemaker",
        "setup",
        "--name",
        "A User",
        "--email",
        "user@example.com",
        cwd=work,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "include.path" in out and "wheelhouse" in out and "on-start script" in out
    assert (instance.state / "wheels" / "python-version").exists()
    assert (instance.state / ".gitignore").read_text() == "*\n"  # never committed from the volume
    save_notebook(work / "analysis.ipynb", "x = 1")
    assert (
        instance.run(
            "git", "add", ".gitignore", "jupytext.toml", ".pre-commit-config.yaml", cwd=work
        ).returncode
        == 0
    )
    first = instance.run("git", "commit", "-qm", "analysis", cwd=work)
    assert first.returncode == 1
    assert b"git add -- analysis.py" in first.stdout + first.stderr
    assert instance.run("git", "add", "analysis.py", cwd=work).returncode == 0
    assert instance.run("git", "commit", "-qm", "analysis", cwd=work).returncode == 0
    pushed = instance.run(
        "git", "push", "-q", "origin", "HEAD", cwd=work, GIT_ASKPASS=askpass(instance, name, token)
    )
    assert pushed.returncode == 0, pushed.stderr
    script = instance.run("git-credential-sagemaker", "lifecycle-script").stdout.decode()
    assert script == (instance.state / "on-start.sh").read_text()
    assert len(script) < 16384

    # 2. Restart: home wiped but for the volume, runtime dir gone, package gone.
    instance.restart()
    assert shutil.which("git-credential-sagemaker", path=instance.user.env["PATH"]) is None

    # 3. The on-start script, run as this user, reinstalls with no index.
    restored = instance.on_start()
    assert restored.returncode == 0, restored.stderr
    assert b"git-credential-sagemaker: restored" in restored.stdout
    assert (instance.home / ".local" / "bin" / "git-credential-sagemaker").exists()
    assert not instance.bin.exists()  # nothing on root's PATH
    assert (instance.home / ".cache" / "pre-commit").is_symlink()

    # 4. The hooks still run, and a push asks for the passphrase exactly once.
    save_notebook(work / "analysis.ipynb", "x = 2")
    hooked = instance.run("git", "commit", "-qam", "x = 2", cwd=work)
    assert hooked.returncode == 1 and b"git add -- analysis.py" in hooked.stdout + hooked.stderr
    assert instance.run("git", "add", "analysis.py", cwd=work).returncode == 0
    assert instance.run("git", "commit", "-qm", "x = 2", cwd=work).returncode == 0
    child = pexpect.spawn(
        "git",
        ["push", "-q", "origin", "HEAD"],
        cwd=str(work),
        env=instance.user.env,
        timeout=60,
        encoding="utf-8",
    )
    child.expect("Passphrase for")
    child.sendline(PASSPHRASE)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "Passphrase" not in str(child.before) and "Token" not in str(child.before)
    for path in instance.volume.rglob("*"):
        if path.is_file() and path.suffix != ".whl":
            assert token.encode() not in path.read_bytes(), path


def test_setup_twice_changes_nothing_the_second_time(
    instance: Instance, git_server: GitServer
) -> None:
    work, _, _ = clone_project(instance, git_server)
    args = ("git-credential-sagemaker", "setup", "--name", "A", "--email", "a@example.com")
    assert instance.run(*args, cwd=work).returncode == 0
    config = (instance.home / ".gitconfig").read_bytes()
    volume_config = (instance.state / "gitconfig").read_bytes()
    again = instance.run(*args, cwd=work)
    assert again.returncode == 0
    assert again.stdout == b"everything is already set up\n"
    assert (instance.home / ".gitconfig").read_bytes() == config
    assert (instance.state / "gitconfig").read_bytes() == volume_config
    dry = instance.run(*args, "--dry-run", cwd=work)
    assert dry.stdout == b"everything is already set up\n"


def test_dry_run_changes_nothing(instance: Instance) -> None:
    done = instance.run(
        "git-credential-sagemaker", "setup", "--name", "A", "--email", "a@example.com", "--dry-run"
    )
    assert done.returncode == 0 and b"would change: git config" in done.stdout
    assert not (instance.home / ".gitconfig").exists()
    assert not instance.state.exists()


def test_studio_needs_no_lifecycle_script(user: User) -> None:
    (user.root / "fs" / "home" / "sagemaker-user").mkdir(parents=True)
    env = {
        "GIT_CREDENTIAL_SAGEMAKER_ROOT": str(user.root / "fs"),
        "GIT_CREDENTIAL_SAGEMAKER_DIR": None,
    }
    done = user.run(
        ["git-credential-sagemaker", "setup", "--name", "A", "--email", "a@b.c"], env=env
    )
    assert done.returncode == 0 and b"no lifecycle script is needed" in done.stdout
    helper = launcher.default_path(user.env)
    assert f"helper = {helper}\n".encode() in (user.home / ".gitconfig").read_bytes()
    assert Path(helper).read_text().startswith(f"#!{BIN / 'python'}")
    script = user.run(["git-credential-sagemaker", "lifecycle-script"], env=env)
    assert script.returncode == 1 and b"Studio" in script.stderr


def test_doctor_names_every_fix_on_a_broken_setup(
    instance: Instance, git_server: GitServer
) -> None:
    work, _, _ = clone_project(instance, git_server)
    save_notebook(work / "tracked.ipynb", "x = 1")
    instance.run("git", "add", "tracked.ipynb", cwd=work)
    instance.run(
        "git", "-c", "user.name=A", "-c", "user.email=a@b.c", "commit", "-qm", "nb", cwd=work
    )
    instance.state.mkdir(mode=0o755)
    instance.state.chmod(0o755)
    doctor = instance.run(
        str(BIN / "git-credential-sagemaker"),
        "doctor",
        cwd=work,
        PATH=f"{instance.bin}:/usr/bin:/bin",
    )
    out = doctor.stdout.decode()
    assert doctor.returncode == 1
    for expected in (
        "git is not configured to use the helper",
        "git-credential-sagemaker setup",
        "include.path",
        f"chmod 700 '{instance.state}'",
        "wheelhouse",
        f"git-credential-sagemaker setup --repo {work}",  # pre-commit is on no PATH
        "--migrate",
    ):
        assert expected in out, expected
    assert out.count("fix: ") >= 6


def test_setup_without_a_terminal_leaves_a_note_for_the_missing_identity(user: User) -> None:
    done = user.run(["git-credential-sagemaker", "setup"])
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    helper = launcher.default_path(user.env)
    assert f"changed: git config --global credential.helper '{helper}'" in out
    assert "note: user.name is not set" in out and "setup --name" in out
    assert "note: user.email is not set" in out


def test_no_repo_leaves_the_repository_alone(user: User) -> None:
    repo = user.root / "checkout"
    assert user.run(["git", "init", "-q", str(repo)]).returncode == 0
    done = user.run(["git-credential-sagemaker", "setup", "--no-repo"], cwd=repo)
    assert done.returncode == 0 and b"credential.helper" in done.stdout
    assert sorted(p.name for p in repo.iterdir()) == [".git"]


def test_on_start_script_fails_clearly_when_no_python_fits(instance: Instance) -> None:
    assert (
        instance.run(
            "git-credential-sagemaker", "setup", "--name", "A", "--email", "a@example.com"
        ).returncode
        == 0
    )
    (instance.state / "wheels" / "python-version").write_text("2.7\n")
    script = (instance.state / "on-start.sh").read_text()
    done = instance.run("bash", "-c", script, GCS_AS_USER="env")
    assert done.returncode == 0  # a failing on-start script would fail the instance's start
    assert b"no Python 2.7 on this instance" in done.stdout
    assert b"not restored" in done.stdout
    # What setup installed is left as it was: the instance stays usable.
    venv = instance.home / ".local" / "share" / "git-credential-sagemaker" / "venv"
    assert (venv / "bin" / "git-credential-sagemaker").exists()


def test_on_start_script_without_a_wheelhouse_lets_the_instance_start(instance: Instance) -> None:
    # A fleet's Lifecycle Configuration can reach an instance where setup never ran. A failing
    # on-start script would fail the instance's start, so it must exit 0 and say why in one
    # line, with only the PATH SageMaker gives it.
    script = instance.run("git-credential-sagemaker", "lifecycle-script")
    assert script.returncode == 0, script.stderr
    done = instance.run(
        "bash",
        "-c",
        script.stdout.decode(),
        GCS_AS_USER="env",
        PATH="/sbin:/bin:/usr/sbin:/usr/bin",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    said = [
        line
        for line in done.stdout.decode().splitlines()
        if line.startswith("git-credential-sagemaker:")
    ]
    assert len(said) == 1, said
    assert "no wheelhouse" in said[0] and "setup" in said[0]


def test_setup_outside_a_repository_says_it_skipped_the_repository_part(user: User) -> None:
    elsewhere = user.root / "not-a-repo"
    elsewhere.mkdir()
    args = ["git-credential-sagemaker", "setup", "--name", "A", "--email", "a@example.com"]

    done = user.run(args, cwd=elsewhere)

    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stdout.decode().splitlines() if "no repository" in line]
    assert notes == [
        f"note: no repository was set up: {elsewhere} is not inside a git repository; for "
        "the notebook hooks, run git-credential-sagemaker setup again inside one, or with "
        "--repo PATH"
    ]
    # Asked for no repository: nothing to explain.
    done = user.run([*args, "--no-repo"], cwd=elsewhere)
    assert done.returncode == 0 and b"no repository" not in done.stdout


def test_git_finds_the_helper_with_a_bare_path_off_an_instance(user: User) -> None:
    """Tried as Code Editor or a Jupyter server would: git runs with PATH=/usr/bin:/bin."""
    done = user.run(
        ["git-credential-sagemaker", "setup", "--no-repo", "--name", "A", "--email", "a@e.com"]
    )
    assert done.returncode == 0, done.stderr
    user.approve("protocol=https\nhost=example.com\nusername=me\npassword=tok-bare-path\n")

    fill = user.run(
        ["git", "credential", "fill"],
        input=b"protocol=https\nhost=example.com\n",
        env={"PATH": "/usr/bin:/bin"},
    )

    assert fill.returncode == 0, fill.stderr
    assert b"password=tok-bare-path" in fill.stdout
    helpers = user.run(["git", "config", "--global", "--get-all", "credential.helper"])
    assert helpers.stdout.decode().split() == [launcher.default_path(user.env)]


def test_the_helper_setup_names_tells_its_version_and_help_names_that_path(user: User) -> None:
    done = user.run(
        ["git-credential-sagemaker", "setup", "--no-repo", "--name", "A", "--email", "a@e.com"]
    )
    assert done.returncode == 0, done.stderr
    helper = user.run(["git", "config", "--global", "--get-all", "credential.helper"])
    path = helper.stdout.decode().strip()
    version = metadata.version("git-credential-sagemaker")
    for flag in ("--version", "-V"):
        told = user.run([path, flag])
        assert told.returncode == 0, told.stderr
        assert told.stdout.decode() == f"git-credential-sagemaker {version}\n"
    shown = " ".join(user.run([path, "--help"]).stdout.decode().split())
    assert "credential.helper sagemaker" not in shown
    assert "absolute path" in shown and "git config --get-all credential.helper" in shown


def test_without_a_lifecycle_configuration_the_line_setup_prints_restores_everything(
    instance: Instance, git_server: GitServer
) -> None:
    work, name, token = clone_project(instance, git_server)
    done = instance.run(
        "git-credential-sagemaker", "setup", "--name", "A", "--email", "a@example.com", cwd=work
    )
    assert done.returncode == 0, done.stderr
    line = re.search(r"after each restart run in a terminal: (sudo bash \S+)", done.stdout.decode())
    assert line is not None, done.stdout
    assert line.group(1) == f"sudo bash {instance.state / 'on-start.sh'}"
    ask = askpass(instance, name, token)
    (work / "a.txt").write_text("a")
    assert instance.run("git", "add", "-A", cwd=work).returncode == 0
    assert instance.run("git", "commit", "-qm", "a", cwd=work).returncode == 0
    assert (
        instance.run("git", "push", "-q", "origin", "HEAD", cwd=work, GIT_ASKPASS=ask).returncode
        == 0
    )

    instance.restart()
    (work / "b.txt").write_text("b")
    assert instance.run("git", "add", "b.txt", cwd=work).returncode == 0
    broken = instance.run("git", "commit", "-qm", "b", cwd=work)
    assert broken.returncode != 0 and b"Author identity unknown" in broken.stderr
    hooked = instance.run("git", "commit", "-qm", "b", cwd=work, **IDENTITY)
    assert hooked.returncode != 0  # the hooks' interpreter is gone: the hook names the line
    assert line.group(1).encode() in hooked.stderr, hooked.stderr

    # The printed line, typed in a terminal in the clone (root already: no sudo to run here).
    by_hand = line.group(1).split()[1:]
    restored = instance.run(
        *by_hand,
        cwd=work,
        GCS_AS_USER="env",
        GCS_PYTHON=BASE_PYTHON,
        PIP_INDEX_URL="http://127.0.0.1:9/none",
    )
    assert restored.returncode == 0, restored.stderr
    assert b"git-credential-sagemaker: restored" in restored.stdout, restored.stdout
    committed = instance.run("git", "commit", "-qm", "b", cwd=work)
    assert committed.returncode == 0, committed.stdout + committed.stderr
    pushed = instance.run("git", "push", "-q", "origin", "HEAD", cwd=work, GIT_ASKPASS=ask)
    assert pushed.returncode == 0, pushed.stderr
