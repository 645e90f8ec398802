"""`setup --kms-key` on a keyring that is already unlocked: the agent wraps the key it holds,
so nothing is asked, from a terminal, a script or a notebook cell; truly locked, one line
says what setup needs.

Real git, moto's server as KMS, the real agent, and a real kernel for the notebook.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from motoserver import MotoServer
from support import PASSPHRASE, Askpass, User
from test_kms import GH, PROG, RESTARTED, get, instance, kms_key, restart, settings
from test_notebook_kernel import Notebook, notebook  # noqa: F401  # the fixture

TOKEN = b"username=alice\npassword=ghp_wrappedwhileunlocked1\n"
# No passphrase, no terminal, no askpass: nothing can be asked.
NOTHING_TO_ASK = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None, "GIT_TERMINAL_PROMPT": "0"}


def unlock(user: User) -> None:
    """A keyring with a token, unlocked as a person unlocks it: an agent holds the key."""
    assert user.helper("store", GH + TOKEN).returncode == 0
    askpass = Askpass(user.root, "unused", PASSPHRASE)
    env = {"GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None, "GIT_ASKPASS": str(askpass.program)}
    done = user.run([PROG, "unlock"], env={**env, "GIT_TERMINAL_PROMPT": None})
    assert done.returncode == 0, done.stderr
    assert user.agent_pids()


@pytest.mark.parametrize("on_an_instance", [False, True], ids=["anywhere", "on-an-instance"])
def test_setup_kms_key_while_unlocked_asks_nothing(
    user: User, aws: MotoServer, on_an_instance: bool
) -> None:
    user.env.update(aws.env)  # the agent's environment too: it makes the KMS call
    if on_an_instance:
        env, instance_arn = instance(user, "a")
        user.env.update(env)
    arn = kms_key(aws)
    unlock(user)
    agents = user.agent_pids()

    done = user.run(
        [PROG, "setup", "--no-repo", "--kms-key", "alias/notebooks"], env=NOTHING_TO_ASK
    )

    assert done.returncode == 0, done.stderr
    assert "opens with KMS key alias/notebooks too" in done.stdout.decode()
    fields = settings(user)
    assert fields["kms_key_id"] == arn and fields["data_key_passphrase"]
    if on_an_instance:  # bound to this instance, as setup binds it when locked
        assert fields["kms_instance"] == instance_arn
    assert user.agent_pids() == agents  # the same agent holds the same key
    again = user.run([PROG, "setup", "--no-repo", "--kms-key", arn], env=NOTHING_TO_ASK)
    assert again.returncode == 0 and b"everything is already set up" in again.stdout
    restart(user)
    assert get(user, {**aws.env, **RESTARTED}) == ("ghp_wrappedwhileunlocked1", "")


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({}, "in a terminal run: git-credential-sagemaker unlock, then run setup again"),
        ({"JPY_PARENT_PID": "1"}, "in a notebook cell run: "),
    ],
    ids=["terminal", "kernel"],
)
def test_setup_kms_key_on_a_locked_keyring_says_what_it_needs(
    user: User, aws: MotoServer, env: dict[str, str], where: str
) -> None:
    user.env.update(aws.env)
    kms_key(aws)
    assert user.helper("store", GH + TOKEN).returncode == 0
    before = settings(user)

    identity = ["--name", "A", "--email", "a@example.com"]
    done = user.run(
        [PROG, "setup", "--no-repo", *identity, "--kms-key", "alias/notebooks"],
        env={**NOTHING_TO_ASK, **env},
    )

    said = done.stderr.decode()
    assert done.returncode == 1 and said.count("\n") == 1, said
    assert "--kms-key wraps the keyring's key, so it needs the keyring unlocked first" in said
    assert where in said and "Traceback" not in said
    assert settings(user) == before


@pytest.fixture
def aws_notebook(user: User, aws: MotoServer, request: pytest.FixtureRequest) -> Iterator[Notebook]:
    """A kernel whose environment reaches moto, as an instance's role reaches KMS."""
    user.env.update(aws.env)
    yield request.getfixturevalue("notebook")


def test_setup_with_a_kms_key_in_a_cell_after_git_unlock_asks_nothing(
    user: User, aws: MotoServer, aws_notebook: Notebook
) -> None:
    arn = kms_key(aws)
    assert user.helper("store", GH + TOKEN).returncode == 0
    kernel = aws_notebook.kernel
    unlocked = kernel.run("%load_ext git_credential_sagemaker\n%git_unlock", answers=[PASSPHRASE])
    assert "The keyring is unlocked" in unlocked.output, unlocked.output

    cell = kernel.run(
        f"import os\nos.chdir({str(user.home)!r})\n"
        "from git_credential_sagemaker import setup\n"
        "setup(name='A', email='a@example.com', kms_key='alias/notebooks')"
    )

    assert cell.prompts == [] and cell.status == "ok", cell.output
    assert "opens with KMS key alias/notebooks too" in cell.output, cell.output
    assert settings(user)["kms_key_id"] == arn
    restart(user)
    assert get(user, {**aws.env, **RESTARTED}) == ("ghp_wrappedwhileunlocked1", "")
