"""`lifecycle-script --fleet` on a blank simulated instance: a fake root, a local index, no network.

    render (on the instance, or anywhere) --> bash as the instance's root would run it
        (GCS_AS_USER=env, GCS_PYTHON, SageMaker's PATH)
        --> the fast half returns at once; the background half's lines follow on its stdout,
            which the test reads to EOF, so nothing it started outlives the test
    pip sees no index but a folder of wheels (PIP_NO_INDEX=1, PIP_FIND_LINKS), or nothing

`setup --secret` and `--kms-key` are passed through as given: the first test checks that the
secret reached git config and that a keyring only KMS opens was made.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
from instance import BASE_PYTHON, Instance
from localindex import aws_wheel_dir, pip_env, wheel_dir
from motoserver import MotoServer
from support import User, merged

from git_credential_sagemaker import cli
from git_credential_sagemaker.provision import kernel_startup, wheelhouse
from git_credential_sagemaker.provision.lifecycle import MAX_CHARS

pytestmark = pytest.mark.timeout(600)  # the first test builds the local index

VERSION = wheelhouse.installed_version()
SECRET = "team/github-token"
SAY = "git-credential-sagemaker: "
SAGEMAKER_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"  # what AWS gives an on-start script
VENV = Path(".local/share/git-credential-sagemaker/venv")
LAUNCHER = Path(".local/share/git-credential-sagemaker/bin/git-credential-sagemaker")


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return aws_wheel_dir(tmp_path_factory)


@pytest.fixture
def instance(user: User) -> Instance:
    return Instance(user)


@pytest.fixture
def no_index(tmp_path: Path) -> Path:
    empty = tmp_path / "no-index"
    empty.mkdir()
    return empty


def render(instance: Instance, *args: str) -> str:
    done = instance.run("git-credential-sagemaker", "lifecycle-script", "--fleet", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


class Started(NamedTuple):
    returncode: int
    ready_before_exit: bool  # whether the install had finished when the script itself exited
    lines: list[str]  # every line, the background half's included

    @property
    def problems(self) -> list[str]:
        return [line for line in self.lines if "; fix: " in line]


def start(
    instance: Instance, script: str, index: Path, extra: dict[str, str] | None = None
) -> Started:
    """Run the on-start script as root would, then read its stdout to EOF (background done)."""
    env = merged(
        instance.user.env,
        {**pip_env(index), "GCS_AS_USER": "env", "GCS_PYTHON": BASE_PYTHON, **(extra or {})},
    )
    env["PATH"] = SAGEMAKER_PATH
    log = instance.state / "fleet.log"
    proc = subprocess.Popen(
        ["bash", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=instance.user.root,
    )
    try:
        returncode = proc.wait(timeout=60)
        ready = log.exists() and "ready:" in log.read_text(errors="replace")
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Started(returncode, ready, out.decode(errors="replace").splitlines())


def venv_version(instance: Instance) -> str:
    python = instance.home / VENV / "bin" / "python"
    done = instance.run(
        str(python),
        "-c",
        "import boto3; from importlib.metadata import version; "
        "print(version('git-credential-sagemaker'))",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


def git_config(instance: Instance, key: str) -> list[str]:
    """What git reads for `key`: the global config and the volume's file it includes."""
    done = instance.run("git", "config", "--get-all", key)
    return done.stdout.decode().splitlines()


def test_fleet_script_sets_up_a_blank_instance_from_the_index(
    instance: Instance, wheels: Path, aws: MotoServer
) -> None:
    # The secret exists (in moto's Secrets Manager), should setup --secret look it up.
    value = json.dumps({"username": "team-bot", "password": "ghp_fleet0123456789"})
    aws.client("secretsmanager").create_secret(Name=SECRET, SecretString=value)
    arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    script = render(instance, "--secret", SECRET, "--kms-key", arn, "--version", VERSION)
    assert not instance.state.exists()  # rendering changed nothing here

    started = start(instance, script, wheels, aws.env)

    assert started.returncode == 0
    assert not started.ready_before_exit, "the slow half must run in the background"
    assert all(line.startswith(SAY) for line in started.lines), started.lines
    assert any(f"installing {VERSION} in the background" in line for line in started.lines)
    assert any(f"ready: {VERSION}" in line for line in started.lines), started.lines
    # No terminal and no --name/--email: one line says so, and nothing waited for an answer.
    assert len(started.problems) == 1, started.lines
    assert "user.name and user.email are not set" in started.problems[0]
    # The pinned version, with its [aws] extra, in the venv the restore script uses.
    assert venv_version(instance) == VERSION
    helper = instance.home / LAUNCHER
    assert git_config(instance, "credential.helper") == [str(helper)]
    head = "".join(helper.read_text().splitlines(keepends=True)[:3])  # #! or, if long, sh's exec
    assert f"{instance.home / VENV / 'bin' / 'python'}" in head and "-IS" in head.split()
    assert git_config(instance, "credential.https://github.com.sagemakerSecret") == [SECRET]
    # A keyring only the instance's role opens: nobody on the fleet ever types a passphrase.
    keyring = (instance.state / "keyring.cfg").read_text()
    assert f"kms_key_id = {arn}" in keyring and "data_key_passphrase" not in keyring
    # What the next restart needs, on the volume: no index needed again.
    wheels_dir = instance.state / "wheels"
    assert any(wheels_dir.glob(f"git_credential_sagemaker-{VERSION}-*.whl"))
    assert any(wheels_dir.glob("boto3-*.whl"))
    assert (wheels_dir / "python-version").read_text().strip() == wheelhouse.python_version()
    assert oct((instance.state).stat().st_mode & 0o777) == "0o700"
    log = (instance.state / "fleet.log").read_text().splitlines()
    assert started.problems[0] in log and log[-1].startswith(f"{SAY}ready")
    # The shared parts: kernel startup file, commands in ~/.local/bin, pre-commit cache.
    startup = instance.home / ".ipython/profile_default/startup" / kernel_startup.FILENAME
    assert repr(str(instance.home / VENV / "bin" / "python")) in startup.read_text()
    assert (instance.home / ".local/bin/git-credential-sagemaker").resolve() == helper.resolve()
    assert (instance.home / ".cache/pre-commit").is_symlink()
    assert not instance.bin.exists()  # nothing on root's PATH


def test_fleet_script_with_no_index_reachable_lets_the_instance_start(
    instance: Instance, no_index: Path
) -> None:
    script = render(instance, "--version", VERSION)

    started = start(instance, script, no_index)

    assert started.returncode == 0
    assert len(started.problems) == 1, started.lines
    said = started.problems[0]
    assert said.startswith(f"{SAY}not installed: ") and "package index" in said, said
    assert not any("ready" in line for line in started.lines)
    assert not (instance.home / VENV).exists()  # the kernel startup file then names the fix
    startup = instance.home / ".ipython/profile_default/startup" / kernel_startup.FILENAME
    assert startup.exists()


def test_fleet_script_prefers_the_volumes_wheelhouse(
    instance: Instance, wheels: Path, no_index: Path
) -> None:
    instance.state.mkdir(mode=0o700)
    shutil.copytree(wheels, instance.state / "wheels")
    before = sorted(p.name for p in (instance.state / "wheels").iterdir())
    script = render(instance, "--version", VERSION)

    started = start(instance, script, no_index)  # the index is unreachable: only the volume

    assert started.returncode == 0
    assert any(f"ready: {VERSION}" in line for line in started.lines), started.lines
    assert [p for p in started.problems if "user.name" not in p] == []
    assert venv_version(instance) == VERSION
    assert sorted(p.name for p in (instance.state / "wheels").iterdir()) == before


def test_fleet_script_without_boto3_anywhere_installs_the_rest_and_says_so(
    instance: Instance, tmp_path_factory: pytest.TempPathFactory, no_index: Path
) -> None:
    # A wheelhouse that plain `setup` made holds no extras, and no index is reachable.
    instance.state.mkdir(mode=0o700)
    shutil.copytree(wheel_dir(tmp_path_factory), instance.state / "wheels")
    script = render(instance, "--version", VERSION)

    started = start(instance, script, no_index)

    assert started.returncode == 0
    aws = [p for p in started.problems if "user.name" not in p]
    assert len(aws) == 1 and "without its [aws] extra (boto3)" in aws[0], started.lines
    assert any(f"ready: {VERSION}" in line for line in started.lines), started.lines
    helper = instance.home / LAUNCHER
    assert git_config(instance, "credential.helper") == [str(helper)]


def test_fleet_script_renders_anywhere_within_the_limit(user: User, tmp_path: Path) -> None:
    # An admin's laptop: no SageMaker volume and no GIT_CREDENTIAL_SAGEMAKER_ROOT.
    assert "GIT_CREDENTIAL_SAGEMAKER_ROOT" not in user.env
    args = ["git-credential-sagemaker", "lifecycle-script", "--fleet"]
    done = user.run([*args, "--kms-key", "alias/team key", "--secret", SECRET])
    assert done.returncode == 0, done.stderr
    script = done.stdout.decode()
    assert len(script) < MAX_CHARS
    assert "STATE=/home/ec2-user/SageMaker/.git-credential-sagemaker\n" in script
    assert f"SETUP=(--no-repo --kms-key 'alias/team key' --secret {SECRET})" in script
    assert f"git-credential-sagemaker[aws]=={VERSION}" in script
    assert subprocess.run(["bash", "-n"], input=script.encode(), check=False).returncode == 0
    # The very script the instance tests run, but for every instance's real paths.
    root = tmp_path / "fs"
    there = user.run(
        [*args, "--kms-key", "alias/team key", "--secret", SECRET],
        env={"GIT_CREDENTIAL_SAGEMAKER_ROOT": str(root)},
    )
    assert there.stdout.decode().replace(f"{root}/home/", "/home/") == script
    # Without --fleet, the laptop still needs no script, and is told about --fleet.
    plain = user.run(args[:2])
    assert plain.returncode == 1 and b"--fleet" in plain.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--version", "not a version"],
        ["--secret", "team/token\nx-injected=1"],
        ["--kms-key", "alias/key\x1b[2J"],
        ["--secret", ""],
        ["--secret=-team"],  # setup would take it for an option, at every start
        ["--kms-key= alias/key"],
    ],
    ids=["version", "newline", "escape", "empty", "dash", "space"],
)
def test_fleet_rejects_a_bad_option_in_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lifecycle-script", "--fleet", *args]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith(SAY), err
    assert "\x1b" not in err


def test_fleet_options_need_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lifecycle-script", "--secret", SECRET]) == 1
    said = capsys.readouterr().err
    assert said == f"{SAY}--version, --kms-key, --secret and --github-app go with --fleet\n"


def test_version_defaults_to_this_package(user: User) -> None:
    done = user.run(["git-credential-sagemaker", "lifecycle-script", "--fleet"])
    assert done.returncode == 0, done.stderr
    assert VERSION != "0" and f"[aws]=={VERSION}'" in done.stdout.decode()
