"""doctor sees what is really broken, and each fix it prints works on the machine as it is.

Every test breaks something the way it breaks for users, runs `doctor` by its absolute path
with the PATH the user would have, runs each printed fix in a shell with that same PATH, and
runs `doctor` again. The package stays installed only in this suite's venv, which stands for
the install doctor happens to run from; pre-commit is on no PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from instance import Instance
from localindex import BASE_PYTHON, wheel_dir
from support import BIN, IDENTITY, User, run

from git_credential_sagemaker.provision.precommit_config import HOOK_TYPES

APP = str(BIN / "git-credential-sagemaker")
JUPYTEXT_SCRIPT = (
    "# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n#       extension: .py\n"
    "#       format_name: percent\n#   kernelspec:\n#     display_name: Python 3\n"
    "#     language: python\n#     name: python3\n# ---\n\n# %%\nx = 1\n"
)
MINIMAL_PATH = "/usr/bin:/bin"


def doctor(user: User, cwd: Path, **env: str) -> list[tuple[str, str]]:
    """(problem, fix) pairs doctor prints; [] only when it says all good."""
    done = user.run([APP, "doctor"], cwd=cwd, env=env)
    out = done.stdout.decode()
    lines = out.splitlines()
    found = [
        (lines[i], lines[i + 1].removeprefix("    fix: "))
        for i in range(len(lines) - 1)
        if lines[i + 1].startswith("    fix: ")
    ]
    assert (done.returncode, out) == (0, "all good\n") if not found else done.returncode == 1, out
    assert b"Traceback" not in done.stderr, done.stderr
    return found


def fix_each(user: User, cwd: Path, **env: str) -> list[str]:
    """Run doctor's first fix until doctor says all good; each fix must remove its problem."""
    seen: list[str] = []
    for _ in range(12):
        found = doctor(user, cwd, **env)
        if not found:
            return seen
        problem, fix = found[0]
        assert not seen or seen[-1] != problem, f"the fix did not fix it: {problem} / {fix}"
        seen.append(problem)
        done = user.run(["sh", "-c", fix], cwd=user.root, env=env)
        assert done.returncode == 0, (fix, done.stdout, done.stderr)
    raise AssertionError(f"doctor still finds problems after 12 fixes: {seen}")


# --- the keyring file --------------------------------------------------------------------------


FIRST = "protocol=https\nhost=example.com\nusername=a\npassword=first\n"
SECOND = "protocol=https\nhost=example.org\nusername=b\npassword=second\n"


@pytest.mark.parametrize(
    "damage",
    [b"", b"\xff\xfe\x00garbage", b"[keyring_2Dsetting]\nscheme"],
    ids=["empty", "binary", "cut"],
)
def test_an_unreadable_keyring_is_named_and_a_new_one_starts(user: User, damage: bytes) -> None:
    assert user.run([APP, "setup", "--no-repo"]).returncode == 0
    user.approve(FIRST)
    keyring = user.store_dir / "keyring.cfg"
    keyring.write_bytes(damage)
    [(problem, fix)] = doctor(user, user.root)
    assert str(keyring) in problem and "git can neither use nor save tokens" in problem
    assert fix == "git-credential-sagemaker reset --yes"  # the PATH finds this very program
    assert fix_each(user, user.root) == [problem]
    kept = [p for p in user.store_dir.iterdir() if p.name.startswith("keyring.cfg.")]
    assert [p.read_bytes() for p in kept] == [damage]  # moved aside, never deleted
    user.approve(SECOND)
    assert user.fill("protocol=https\nhost=example.org\n")["password"] == "second"


def test_a_damaged_keyring_with_a_good_copy_goes_back_to_it(user: User) -> None:
    assert user.run([APP, "setup", "--no-repo"]).returncode == 0
    user.approve(FIRST)
    user.approve(SECOND)  # the copy kept before this write holds FIRST only
    (user.store_dir / "keyring.cfg").write_bytes(b"")
    [(problem, fix)] = doctor(user, user.root)
    assert fix.startswith("mv -- ") and fix.endswith("keyring.cfg")
    assert fix_each(user, user.root) == [problem]
    assert user.fill("protocol=https\nhost=example.com\n")["password"] == "first"


# --- the git hooks' Python ---------------------------------------------------------------------


def disposable_python(path: Path) -> Path:
    """A venv that sees this suite's packages (pre-commit and ours), to be deleted later."""
    run([BASE_PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    ours = run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    theirs = run(
        [
            str(path / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ]
    )
    site = Path(theirs.stdout.decode().strip())
    (site / "suite.pth").write_text(
        f"import site; site.addsitedir({ours.stdout.decode().strip()!r})\n"
    )
    return path / "bin" / "python"


def test_hooks_whose_python_is_gone_are_named_and_setup_reinstalls_them(user: User) -> None:
    repo = user.root / "repo"
    assert user.git("init", "-q", str(repo)).returncode == 0
    venv = user.root / "gone-venv"
    python = disposable_python(venv)
    done = user.run([str(python), "-m", "git_credential_sagemaker", "setup", "--repo", str(repo)])
    assert done.returncode == 0, done.stderr
    assert f"INSTALL_PYTHON={python}" in (repo / ".git" / "hooks" / "pre-commit").read_text()
    shutil.rmtree(venv)

    # What the user meets: every commit and checkout fails, pre-commit being on no PATH.
    env = {"PATH": MINIMAL_PATH}
    commit = user.git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo, env=env)
    assert commit.returncode == 1 and b"`pre-commit` not found" in commit.stderr

    setup = f"{APP} setup --repo {repo}"
    found = doctor(user, repo, **env)
    hooks = [(p, f) for p, f in found if "git hook" in p]
    assert [f for _, f in hooks] == [setup]
    assert f"git hooks {', '.join(HOOK_TYPES)} name {python}, which does not run" in hooks[0][0]
    dry = user.run([APP, "setup", "--repo", str(repo), "--dry-run"], env=env).stdout.decode()
    assert "everything is already set up" not in dry
    assert f"pre-commit hooks reinstalled for {', '.join(HOOK_TYPES)}: their Python" in dry

    ran = user.run(["sh", "-c", hooks[0][1]], cwd=user.root, env=env)
    assert ran.returncode == 0, ran.stderr
    assert not [p for p, _ in doctor(user, repo, **env) if "git hook" in p]
    skipped = {**env, "SKIP": "notebooks-to-py"}  # the hook runs; its environment is not built
    commit = user.git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo, env=skipped)
    assert commit.returncode == 0, commit.stderr
    assert b"notebooks to .py scripts" in commit.stdout + commit.stderr


# --- a notebook instance -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel_dir(tmp_path_factory)


@pytest.mark.timeout(900)
def test_on_a_notebook_instance_each_fix_works_after_what_breaks_it(
    user: User, wheels: Path
) -> None:
    instance = Instance(user, wheels, may_prompt=False)
    work = instance.home / "SageMaker" / "project"
    assert user.git("init", "-q", str(work)).returncode == 0
    setup = [APP, "setup", "--name", "A User", "--email", "a@example.com"]
    done = user.run([*setup, "--repo", str(work)])
    assert done.returncode == 0, done.stderr
    assert b"the notebook hooks' environment built from the wheelhouse" in done.stdout
    login_path = {"PATH": f"{instance.home / '.local' / 'bin'}:{MINIMAL_PATH}"}
    assert doctor(user, work, **login_path) == []

    # The kernel startup file is from an older version: notebooks lose %git_unlock.
    startup = instance.home / ".ipython" / "profile_default" / "startup"
    (startup / "50-git-credential-sagemaker.py").write_text("# an older version\n")
    [(problem, fix)] = doctor(user, work, **login_path)
    assert "notebook kernels lack %git_unlock" in problem and fix == f"{APP} setup"
    assert fix_each(user, work, **login_path) == [problem]

    # An older setup named the helper by name: found in a terminal, not in a kernel.
    volume_config = str(instance.state / "gitconfig")
    user.run(["git", "config", "--file", volume_config, "credential.helper", "sagemaker"])
    [(problem, fix)] = doctor(user, work, **login_path)
    assert "git in a notebook kernel can't find the helper 'sagemaker'" in problem
    assert fix == f"{APP} setup"  # the PATH finds another install of it: this one, by path
    assert fix_each(user, work, **login_path) == [problem]

    # The venv's Python went away (an image update): the helper and the hooks stop working.
    for python in (instance.venv / "bin").glob("python*"):
        python.unlink()
    found = doctor(user, work, **login_path)
    assert "does not run" in found[0][0]
    assert f"rm -rf -- {instance.venv} && {APP} setup" == found[0][1]
    assert f"git hooks {', '.join(HOOK_TYPES)} name {instance.venv}/bin/python" in found[1][0]
    assert fix_each(user, work, **login_path) == [found[0][0]]

    # A restart without the Lifecycle Configuration: no include line, no venv, no pre-commit.
    instance.restart()
    minimal = {"PATH": MINIMAL_PATH}
    commit = user.git("commit", "-qm", "x", "--allow-empty", cwd=work, env={**minimal, **IDENTITY})
    assert commit.returncode == 1 and b"`pre-commit` not found" in commit.stderr
    found = doctor(user, work, **minimal)
    assert "git is not configured to use the helper" in found[0][0]
    problems = [problem for problem, _ in found]
    assert any("git says '`pre-commit` not found'" in problem for problem in problems), problems
    assert fix_each(user, work, **minimal)

    # The hooks run again, from the environment kept on the volume: pip is never asked.
    offline = {**minimal, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    commit = user.git("commit", "-q", "--allow-empty", "-m", "x", cwd=work, env=offline)
    assert commit.returncode == 0, commit.stderr
    said = commit.stdout + commit.stderr
    assert b"notebooks to .py scripts" in said and b"Installing environment" not in said


@pytest.mark.timeout(900)
def test_a_broken_hook_environment_is_named_and_setup_rebuilds_it_offline(
    user: User, wheels: Path
) -> None:
    instance = Instance(user, wheels, may_prompt=False)
    work = instance.home / "SageMaker" / "project"
    assert user.git("init", "-q", str(work)).returncode == 0
    done = user.run([APP, "setup", "--name", "A", "--email", "a@example.com", "--repo", str(work)])
    assert done.returncode == 0, done.stderr
    assert b"the notebook hooks' environment built from the wheelhouse" in done.stdout
    login_path = {"PATH": f"{instance.home / '.local' / 'bin'}:{MINIMAL_PATH}"}
    assert doctor(user, work, **login_path) == []

    # A notebook script committed whose notebook is gone, as a pull leaves it when the hooks
    # that would rebuild it are broken.
    (work / "analysis.py").write_text(JUPYTEXT_SCRIPT)
    assert user.git("add", "analysis.py", cwd=work).returncode == 0
    assert user.git("commit", "-q", "-m", "analysis", cwd=work).returncode == 0
    (work / "analysis.ipynb").unlink(missing_ok=True)

    # Its Python removed from pre-commit's cache: the next commit would ask the index.
    cache = instance.home / ".cache" / "pre-commit"
    [envdir] = [p for p in cache.glob("repo*/py_env-*") if (p / "bin").is_dir()]
    for python in (envdir / "bin").glob("python*"):
        python.unlink()
    found = doctor(user, work, **login_path)
    # Both are named at once: the stale notebook, and the broken environment that caused it.
    assert len(found) == 2 and "analysis.ipynb" in found[0][0], found
    problem, fix = found[1]
    assert "the notebook hooks' environment in pre-commit's cache" in problem, problem
    assert "asks the package index for git-credential-sagemaker==" in problem
    assert fix == f"{APP} setup --repo {work}"
    offline = {**login_path, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    assert fix_each(user, work, **offline) == [found[0][0], problem]
    commit = user.git("commit", "-q", "--allow-empty", "-m", "x", cwd=work, env=offline)
    assert commit.returncode == 0, commit.stderr
    assert b"Installing environment" not in commit.stdout + commit.stderr
