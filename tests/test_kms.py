"""A KMS-sealed keyring against moto's server on loopback: restarts with no passphrase.

Each test runs the real helper, git and setup as processes whose boto3 talks to moto over
HTTP (AWS_ENDPOINT_URL); nothing is patched. A restart is simulated the way it happens on an
instance: every agent stopped, no passphrase in the environment, no terminal.
"""

from __future__ import annotations

import base64
import configparser
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import motoserver
import pexpect
import pytest
from instance import Instance
from motoserver import MotoServer, free_port
from support import PASSPHRASE, User
from test_keyring_file import change_passphrase

from git_credential_sagemaker.credential import agent, aws, crypto, keys, kms, paths
from git_credential_sagemaker.credential.aws import AwsError
from git_credential_sagemaker.credential.store import Store
from git_credential_sagemaker.errors import StoreError

PROG = "git-credential-sagemaker"
DATA = Path(__file__).parent / "data"
GH = b"protocol=https\nhost=github.com\n"
LEGACY_TOKENS = (b"ghp_legacyTokenAlice0001", b"legacy-token-bob-0002")
# After a restart: no passphrase, no terminal, no prompt, no askpass.
RESTARTED = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None, "GIT_TERMINAL_PROMPT": "0"}


def settings(user: User) -> dict[str, str]:
    config = configparser.RawConfigParser()
    config.read(user.store_dir / "keyring.cfg")
    return dict(config.items("keyring_2Dsetting"))


def kms_key(aws: MotoServer, alias: str = "alias/notebooks") -> str:
    kms = aws.client("kms")
    key = kms.create_key(Description="git-credential-sagemaker test")["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return str(key["Arn"])


def restart(user: User) -> None:
    """Everything but the volume is gone: the agents stop (the runtime dir is emptied)."""
    user.close()
    user.runtime.mkdir(mode=0o700)


def get(user: User, env: dict[str, str | None]) -> tuple[str, str]:
    done = user.helper("get", GH, env=env)
    assert b"Traceback" not in done.stderr, done.stderr
    fields = dict(line.split("=", 1) for line in done.stdout.decode().splitlines() if "=" in line)
    return fields.get("password", ""), done.stderr.decode()


def legacy_store(user: User) -> None:
    """A keyring written by the version before the data key existed (passphrase-derived key)."""
    user.store_dir.mkdir(parents=True, mode=0o700)
    shutil.copy(DATA / "keyring-v1.cfg", user.store_dir / "keyring.cfg")
    (user.store_dir / "keyring.cfg").chmod(0o600)


def test_a_store_in_the_old_format_opens_and_moves_to_a_wrapped_key_losing_nothing(
    user: User,
) -> None:
    legacy_store(user)
    before = (user.store_dir / "keyring.cfg").read_bytes()

    assert get(user, {})[0] == "ghp_legacyTokenAlice0001"

    after = settings(user)
    assert after["version"] == "2" and after["data_key_passphrase"] and after["store_id"]
    assert (user.store_dir / "keyring.cfg.bak").read_bytes() == before  # the old file, kept
    listed = user.run([PROG, "list"]).stdout.decode()
    assert "github.com" in listed and "git.example.com" in listed and "2100-01-01" in listed
    bob = user.helper("get", b"protocol=https\nhost=git.example.com\nusername=bob\n")
    assert b"password=legacy-token-bob-0002" in bob.stdout
    data = (user.store_dir / "keyring.cfg").read_bytes()
    assert all(token not in data for token in LEGACY_TOKENS)
    # A wrong passphrase still opens nothing, and a second unlock changes nothing.
    wrong = user.helper("get", GH, env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "not it"})
    assert b"wrong passphrase" in wrong.stderr and b"password=" not in wrong.stdout
    assert get(user, {})[0] == "ghp_legacyTokenAlice0001"
    assert (user.store_dir / "keyring.cfg").read_bytes() == data


def test_an_existing_store_wrapped_by_kms_survives_a_restart_with_no_prompt(
    user: User, aws: MotoServer
) -> None:
    arn = kms_key(aws)
    legacy_store(user)  # the usual case: a user who has used the passphrase for a while

    done = user.run([PROG, "setup", "--no-repo", "--kms-key", "alias/notebooks"], env=aws.env)

    assert done.returncode == 0, done.stderr
    assert "opens with KMS key alias/notebooks too" in done.stdout.decode()
    fields = settings(user)
    assert fields["kms_key_id"] == arn and fields["data_key_passphrase"]
    status = user.run([PROG, "status"], env=aws.env).stdout.decode()
    assert f"opens:    with the passphrase or KMS key {arn}" in status

    restart(user)
    token, said = get(user, {**aws.env, **RESTARTED})

    assert token == "ghp_legacyTokenAlice0001"
    assert said == ""  # not a prompt, not a hint: nothing at all
    assert user.agent_pids()  # the key went to an agent: later calls need no AWS call
    again = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=aws.env)
    assert again.returncode == 0 and b"everything is already set up" in again.stdout
    for path in user.store_dir.iterdir():
        assert all(token not in path.read_bytes() for token in LEGACY_TOKENS), path


def test_a_fleet_store_opens_only_with_kms_and_never_asks(user: User, aws: MotoServer) -> None:
    arn = kms_key(aws)
    env = {**aws.env, **RESTARTED}
    user.env.update(env)  # git's own calls to the helper too
    done = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=env)
    assert done.returncode == 0, done.stderr
    assert "it opens with KMS key" in done.stdout.decode()
    assert "data_key_passphrase" not in settings(user)

    user.approve("protocol=https\nhost=github.com\nusername=fleet\npassword=tok-fleet-1\n")
    restart(user)

    assert get(user, env) == ("tok-fleet-1", "")
    assert b"tok-fleet-1" not in (user.store_dir / "keyring.cfg").read_bytes()
    status = user.run([PROG, "status"], env=env).stdout.decode()
    assert f"opens:    with KMS key {arn}\n" in status


ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["kms:*", "iam:*"], "Resource": "*"}],
    }
)


@pytest.fixture
def iam_aws(tmp_path: Path) -> Iterator[tuple[MotoServer, dict[str, str], str]]:
    """moto checking IAM: a role-like user allowed kms:* (the first 4 calls are unchecked, to
    create it). Returns the server, that user's credentials, and a key's ARN."""
    server = motoserver.start(tmp_path / "moto-iam.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "4"})
    try:
        iam = server.client("iam")
        iam.create_user(UserName="notebook-role")
        created = iam.create_access_key(UserName="notebook-role")["AccessKey"]
        arn = str(server.client("kms").create_key()["KeyMetadata"]["Arn"])
        iam.put_user_policy(UserName="notebook-role", PolicyName="kms", PolicyDocument=ROLE_POLICY)
        creds = {
            "AWS_ACCESS_KEY_ID": created["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": created["SecretAccessKey"],
        }
        yield server, creds, arn
    finally:
        server.stop()


def kms_fails_then_passphrase(user: User, env: dict[str, str | None]) -> tuple[str, str]:
    """`get` at a terminal: (what was said before the passphrase prompt, the answer)."""
    child = pexpect.spawn(
        PROG,
        ["get"],
        env={k: v for k, v in {**user.env, **env}.items() if v is not None},
        timeout=60,
        encoding="utf-8",
    )
    child.send("protocol=https\nhost=github.com\n\n")
    child.sendeof()
    child.expect("Passphrase for")
    said = str(child.before)
    child.sendline(PASSPHRASE)
    child.expect(pexpect.EOF)
    child.close()
    return said, str(child.before)


def test_revoking_kms_decrypt_locks_the_store_and_the_passphrase_still_opens_it(
    user: User, iam_aws: tuple[MotoServer, dict[str, str], str]
) -> None:
    server, creds, arn = iam_aws
    env: dict[str, str | None] = {**server.env, **creds}
    legacy_store(user)
    done = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=env)
    assert done.returncode == 0, done.stderr
    restart(user)
    assert get(user, {**env, **RESTARTED}) == ("ghp_legacyTokenAlice0001", "")

    restart(user)
    iam = server.client("iam", creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"])
    iam.delete_user_policy(UserName="notebook-role", PolicyName="kms")
    said, answer = kms_fails_then_passphrase(
        user, {**env, **RESTARTED, "GIT_TERMINAL_PROMPT": None}
    )

    lines = [line for line in said.splitlines() if "KMS" in line]
    assert len(lines) == 1, said
    assert "access denied" in lines[0] and "the passphrase opens it instead" in lines[0], lines
    assert "password=ghp_legacyTokenAlice0001" in answer and "Traceback" not in said + answer
    doctor = user.run([PROG, "doctor"], env={**env, **RESTARTED}).stdout.decode()
    assert "access denied" in doctor and f"kms:Decrypt on {arn}" in doctor, doctor


@pytest.mark.parametrize("cause", ["no credentials", "no network"])
def test_when_kms_fails_one_line_then_the_passphrase_prompt(
    user: User, aws: MotoServer, cause: str
) -> None:
    arn = kms_key(aws)
    legacy_store(user)
    assert user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=aws.env).returncode == 0
    restart(user)
    env: dict[str, str | None] = {**aws.env, **RESTARTED, "GIT_TERMINAL_PROMPT": None}
    if cause == "no credentials":
        env.update({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None})
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(user.root / "none")
        env["AWS_CONFIG_FILE"] = str(user.root / "none")
        expected = "no AWS credentials"
    else:
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
        expected = "AWS could not be reached"

    said, answer = kms_fails_then_passphrase(user, env)

    lines = [line for line in said.splitlines() if "KMS" in line]
    assert len(lines) == 1, said
    assert expected in lines[0] and "the passphrase opens it instead" in lines[0], lines
    assert "Traceback" not in said + answer
    assert "password=ghp_legacyTokenAlice0001" in answer


def test_a_kms_only_store_that_kms_cannot_open_says_so_in_one_line(
    user: User, aws: MotoServer
) -> None:
    arn = kms_key(aws)
    env: dict[str, str | None] = {**aws.env, **RESTARTED}
    user.env.update(aws.env)
    assert user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=env).returncode == 0
    user.approve("protocol=https\nhost=github.com\nusername=fleet\npassword=tok-fleet-2\n")
    restart(user)
    unreachable = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}

    token, said = get(user, unreachable)

    assert token == ""
    assert said.count("\n") == 1 and "AWS could not be reached" in said, said
    assert "nothing else opens" in said and "kms:Decrypt" in said, said
    assert "tok-fleet-2" not in said
    doctor = user.run([PROG, "doctor"], env=unreachable).stdout.decode()
    assert "AWS could not be reached" in doctor and "nothing else opens it" in doctor, doctor
    assert get(user, env) == ("tok-fleet-2", "")  # back on the network: no prompt


def test_a_bad_kms_key_option_is_one_line_and_changes_nothing(user: User, aws: MotoServer) -> None:
    done = user.run([PROG, "setup", "--no-repo", "--kms-key", "alias/nope"], env=aws.env)
    err = done.stderr.decode()
    assert done.returncode == 1 and err.count("\n") == 1, err
    assert "alias/nope" in err and "Traceback" not in err
    assert not (user.store_dir / "keyring.cfg").exists()
    bad = user.run([PROG, "setup", "--no-repo", "--kms-key", "a\nb"], env=aws.env)
    assert bad.returncode != 0 and b"--kms-key needs" in bad.stderr


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("DisabledException", "the KMS key is disabled"),
        ("KMSInvalidStateException", "disabled or pending deletion"),
        ("AccessDeniedException", "access denied"),
        ("NotFoundException", "does not exist"),
    ],
)
def test_each_kms_error_reads_as_its_cause(code: str, said: str) -> None:
    """Causes moto's server does not produce, as botocore raises them from AWS's answer."""
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": code, "Message": "internal detail"}}, "Decrypt")
    assert said in aws.describe(error) and "internal detail" not in aws.describe(error)


def test_on_a_notebook_instance_a_kms_store_survives_a_restart_with_no_prompt(
    user: User, aws: MotoServer
) -> None:
    """The whole instance route: setup keeps boto3 in the wheelhouse, the on-start script
    rebuilds the venv with it, and the first git command after the restart asks nothing."""
    instance = Instance(user)
    user.env.update(aws.env)
    arn = kms_key(aws)
    setup = [PROG, "setup", "--no-repo", "--name", "A", "--email", "a@example.com"]
    done = instance.run(*setup, "--kms-key", arn)
    assert done.returncode == 0, done.stderr
    assert list((instance.state / "wheels").glob("boto3-*.whl")), done.stdout
    token = b"protocol=https\nhost=github.com\nusername=a\npassword=tok-on-the-instance\n"
    stored = user.run(["git", "credential", "approve"], input=token)
    assert stored.returncode == 0 and stored.stderr == b"", stored.stderr

    instance.restart()
    restored = instance.on_start()
    assert b"git-credential-sagemaker: restored" in restored.stdout, restored.stdout
    fill = user.run(
        ["git", "credential", "fill"],
        input=b"protocol=https\nhost=github.com\n",
        env={"GIT_TERMINAL_PROMPT": "0"},
    )

    assert fill.returncode == 0 and fill.stderr == b"", fill.stderr
    assert b"password=tok-on-the-instance" in fill.stdout
    assert b"tok-on-the-instance" not in (instance.state / "keyring.cfg").read_bytes()


def test_a_kms_only_store_gets_a_passphrase_as_a_second_way_in(user: User, aws: MotoServer) -> None:
    arn = kms_key(aws)
    user.env.update(aws.env)
    nobody = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None}
    assert user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=nobody).returncode == 0
    user.approve("protocol=https\nhost=github.com\nusername=fleet\npassword=tok-fleet-3\n")

    added = user.run([PROG, "passphrase"], env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "later"})

    assert added.returncode == 0, added.stderr
    status = user.run([PROG, "status"]).stdout.decode()
    assert f"opens:    with the passphrase or KMS key {arn}" in status
    restart(user)
    offline = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    token, said = get(user, {**offline, "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "later"})
    assert token == "tok-fleet-3"
    assert "AWS could not be reached" in said and "the passphrase opens it instead" in said


def test_changing_the_passphrase_at_a_terminal(user: User) -> None:
    legacy_store(user)
    said = change_passphrase(user, "a brand new passphrase")
    assert "opens" in said and "rotate your tokens" in said

    restart(user)
    old = user.helper("get", GH)
    assert b"wrong passphrase" in old.stderr and b"password=" not in old.stdout
    new = user.helper(
        "get", GH, env={"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": "a brand new passphrase"}
    )
    assert b"password=ghp_legacyTokenAlice0001" in new.stdout
    data = (user.store_dir / "keyring.cfg").read_bytes()
    assert b"a brand new passphrase" not in data and PASSPHRASE.encode() not in data


def test_no_data_key_reaches_a_log_even_at_debug(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A notebook that turned on DEBUG logging runs %git_unlock: botocore logs bodies."""
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    arn = kms_key(aws)
    caplog.set_level(logging.DEBUG)
    data_key = os.urandom(32)
    context = {"store": "/volume/keyring.cfg", "store_id": "abc"}

    blob, _ = kms.encrypt(arn, data_key, context)
    assert kms.decrypt(arn, blob, context) == data_key

    logged = caplog.text
    # The same call made with boto3 directly does log the key: the capture sees botocore.
    control = os.urandom(32)
    aws.client("kms").encrypt(KeyId=arn, Plaintext=control)
    assert base64.b64encode(control).decode() in caplog.text
    assert base64.b64encode(data_key).decode() not in logged and data_key.hex() not in logged
    assert logging.getLogger("botocore").level == logging.NOTSET  # left as it was


def test_a_store_moved_by_another_process_is_written_with_no_second_prompt(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "store"
    directory.mkdir(mode=0o700)
    shutil.copy(DATA / "keyring-v1.cfg", directory / "keyring.cfg")
    (directory / "keyring.cfg").chmod(0o600)
    fields = dict(configparser_items(directory / "keyring.cfg"))
    legacy_key = crypto.derive_key(PASSPHRASE, crypto.KdfParams.from_fields(fields))
    # An agent of the version before holds the passphrase's key; no passphrase source.
    holder = Store(directory, key=legacy_key)
    mover = Store(directory, passphrase=lambda new: PASSPHRASE)
    mover.unlock()  # moves the file to version 2
    assert mover.moved and settings_of(directory)["version"] == "2"

    holder.put(
        {"protocol": "https", "host": "new.example.com", "path": None, "username": "n"},
        {"password": "tok-after-the-move"},
    )

    reader = Store(directory, passphrase=lambda new: PASSPHRASE)
    [entry] = [e for e in reader.entries() if e.host == "new.example.com"]
    assert reader.secrets(entry)["password"] == "tok-after-the-move"
    assert holder.unlock() == reader.unlock()  # the data key, found with the key in hand


def test_moving_the_file_retires_an_agent_holding_the_old_key(user: User, aws: MotoServer) -> None:
    legacy_store(user)
    fields = settings(user)
    legacy_key = crypto.derive_key(PASSPHRASE, crypto.KdfParams.from_fields(fields))
    runtime = Path(paths.runtime_dir(user.env))  # where the helper looks for its agent
    agent.spawn(user.store_dir, runtime, legacy_key, None)
    assert user.run([PROG, "status"]).stdout.startswith(b"store:")
    assert b"unlocked (agent pid" in user.run([PROG, "status"]).stdout
    assert user.agent_pids()
    arn = kms_key(aws)

    done = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=aws.env)

    assert done.returncode == 0, done.stderr
    assert settings(user)["version"] == "2"
    for _ in range(100):  # it was told to lock, and exits once it has answered (bounded)
        if not user.agent_pids():
            break
        time.sleep(0.1)
    assert user.agent_pids() == []  # it could no longer read the file it guarded
    assert get(user, {**aws.env, **RESTARTED}) == ("ghp_legacyTokenAlice0001", "")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--secret", "s", "--secret-url", "https://github.com/my-org"], "scheme://host only"),
        (["--secret", "s", "--secret-url", "github.com"], "needs https://HOST"),
        (["--secret=-s"], "--secret needs a name"),
        (["--kms-key= alias/x"], "--kms-key needs a name"),
    ],
)
def test_setup_refuses_aws_options_git_or_aws_would_misread(
    user: User, args: list[str], said: str
) -> None:
    done = user.run([PROG, "setup", "--no-repo", *args])
    err = done.stderr.decode()
    assert done.returncode != 0 and said in err and err.count("\n") == 1, err
    config = user.home / ".gitconfig"
    assert not config.exists() or b"sagemakerSecret" not in config.read_bytes()


def configparser_items(path: Path) -> list[tuple[str, str]]:
    config = configparser.RawConfigParser()
    config.read(path)
    return config.items("keyring_2Dsetting")


def settings_of(directory: Path) -> dict[str, str]:
    return dict(configparser_items(directory / "keyring.cfg"))


def test_a_passphrase_change_wraps_a_new_key_with_kms_and_a_restart_asks_nothing(
    user: User, aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = kms_key(aws)
    legacy_store(user)
    assert user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=aws.env).returncode == 0
    before = settings(user)

    said = change_passphrase(user, "after the change", old=None, env=aws.env)  # KMS opened it

    assert f"KMS key {arn} wraps the new key too" in said, said
    after = settings(user)
    assert after["kms_key_id"] == arn and after["data_key_passphrase"]
    assert after["data_key_kms"] != before["data_key_kms"]
    assert after["store_id"] != before["store_id"]
    restart(user)
    assert get(user, {**aws.env, **RESTARTED}) == ("ghp_legacyTokenAlice0001", "")
    # KMS still unwraps the old wrapping (it can't forget it), and that key opens nothing now.
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    old = keys.wrapping(str(user.store_dir / "keyring.cfg"), before, None)
    old_key = kms.decrypt(old.key_id, old.blob, old.context)
    stale = Store(user.store_dir, key=old_key)
    assert not stale.opens()
    with pytest.raises(StoreError):
        stale.secrets(stale.entries()[0])


# --- the notebook instance in the encryption context ------------------------------------------


def instance(user: User, name: str) -> tuple[dict[str, str], str]:
    """(the env of notebook instance `name`, its ARN): SageMaker's metadata file under a fake
    root, as /opt/ml/metadata/resource-metadata.json is on a real one."""
    root = user.root / f"instance-{name}"
    metadata = root / "opt" / "ml" / "metadata" / "resource-metadata.json"
    metadata.parent.mkdir(parents=True, exist_ok=True)
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name}"
    metadata.write_text(json.dumps({"ResourceArn": arn, "ResourceName": name}))
    return {"GIT_CREDENTIAL_SAGEMAKER_ROOT": str(root)}, arn


def test_a_keyring_copied_to_another_instance_does_not_open_there_by_kms(
    user: User, aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = kms_key(aws)
    legacy_store(user)
    on_a, arn_a = instance(user, "a")
    on_b, arn_b = instance(user, "b")  # same role, same volume contents
    done = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env={**aws.env, **on_a})
    assert done.returncode == 0, done.stderr
    fields = settings(user)
    assert fields["kms_instance"] == arn_a and fields["kms_context"].split()[-1] == "instance"
    restart(user)
    assert get(user, {**aws.env, **on_a, **RESTARTED}) == ("ghp_legacyTokenAlice0001", "")

    restart(user)
    said, answer = kms_fails_then_passphrase(
        user, {**aws.env, **on_b, **RESTARTED, "GIT_TERMINAL_PROMPT": None}
    )

    lines = [line for line in said.splitlines() if "KMS" in line]
    assert len(lines) == 1, said
    assert arn_a in lines[0] and arn_b in lines[0], lines
    assert "the passphrase opens it instead" in lines[0], lines
    assert "password=ghp_legacyTokenAlice0001" in answer and "Traceback" not in said + answer
    doctor = user.run([PROG, "doctor"], env={**aws.env, **on_b, **RESTARTED}).stdout.decode()
    assert arn_a in doctor and f"setup --kms-key {arn}" in doctor, doctor
    # Not only this tool's word: KMS itself refuses the key to B's context.
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    there = keys.wrapping(str(user.store_dir / "keyring.cfg"), fields, arn_a)
    assert kms.decrypt(there.key_id, there.blob, there.context)  # as on A
    with pytest.raises(AwsError):
        kms.decrypt(there.key_id, there.blob, {**there.context, "instance": arn_b})
    # The move, as the README says: the passphrase, then setup again on the new instance.
    again = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env={**aws.env, **on_b})
    assert again.returncode == 0 and b"opens with KMS key" in again.stdout, again.stderr
    restart(user)
    assert get(user, {**aws.env, **on_b, **RESTARTED}) == ("ghp_legacyTokenAlice0001", "")


def test_a_kms_wrapping_that_names_no_instance_keeps_opening_and_setup_binds_it(
    user: User, aws: MotoServer
) -> None:
    arn = kms_key(aws)
    legacy_store(user)
    assert user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=aws.env).returncode == 0
    # What the release before wrote: no record of the context's fields.
    path = user.store_dir / "keyring.cfg"
    config = configparser.RawConfigParser(interpolation=None)
    config.optionxform = str  # type: ignore[assignment,method-assign]
    config.read(path)
    config.remove_option("keyring_2Dsetting", "kms_context")
    with path.open("w") as f:
        config.write(f)
    on_a, arn_a = instance(user, "a")
    restart(user)

    assert get(user, {**aws.env, **on_a, **RESTARTED}) == ("ghp_legacyTokenAlice0001", "")

    done = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env={**aws.env, **on_a})
    assert done.returncode == 0 and b"opens with KMS key" in done.stdout, done.stderr
    assert settings(user)["kms_instance"] == arn_a
    restart(user)
    assert get(user, {**aws.env, **on_a, **RESTARTED}) == ("ghp_legacyTokenAlice0001", "")
    on_b, _ = instance(user, "b")
    restart(user)
    token, said = get(user, {**aws.env, **on_b, **RESTARTED})
    assert token == "" and arn_a in said, said  # no terminal: one line says why, no prompt
