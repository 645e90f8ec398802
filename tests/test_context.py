"""Telling the JupyterLab Git panel's git from a terminal's, through real process trees.

A probe credential helper records what `context` finds for it, run by real git under real
launchers: this test process (as a terminal's shell would be), and a program named like a
Jupyter server. The end-to-end panel tests (test_git_panel.py) use the real Jupyter server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support import User

from git_credential_sagemaker.credential import context

PROBE = """\
import json, sys
from git_credential_sagemaker.credential import context
sys.stdin.read()
with open(sys.argv[1], "w") as out:
    json.dump({"launcher": context.launcher(), "panel": context.in_git_panel()}, out)
"""


def probe(user: User, launcher: list[str] | None = None) -> dict[str, object]:
    """What the helper would find: `git credential fill`, run directly or by `launcher`."""
    script = user.root / "probe.py"
    script.write_text(PROBE)
    found = user.root / "found.json"
    git = [
        "git",
        "-c",
        "credential.helper=",
        "-c",
        f"credential.helper=!{sys.executable} {script} {found}",
        "credential",
        "fill",
    ]
    done = user.run([*(launcher or []), *git], input=b"protocol=https\nhost=example.com\n\n")
    assert found.exists(), done.stderr
    result: dict[str, object] = json.loads(found.read_text())
    return result


def own_argv() -> list[str]:
    return Path("/proc/self/cmdline").read_bytes().decode().split("\0")[:-1]


def test_git_run_by_an_ordinary_program_is_not_the_panel(user: User) -> None:
    found = probe(user)
    assert found == {"launcher": own_argv(), "panel": False}


def test_git_run_by_a_jupyter_server_is_the_panel(user: User) -> None:
    server = user.root / "bin" / "jupyter-lab"
    server.parent.mkdir()
    server.write_text(
        f"#!{sys.executable}\nimport subprocess, sys\nsys.exit(subprocess.call(sys.argv[1:]))\n"
    )
    server.chmod(0o700)
    found = probe(user, [str(server)])
    launcher = found["launcher"]
    assert found["panel"] is True
    assert isinstance(launcher, list) and launcher[:2] == [sys.executable, str(server)]


def test_a_shell_git_did_not_start_is_a_launcher_too(user: User) -> None:
    found = probe(user, ["sh", "-c", '"$@"; true', "sh"])  # the shell stays git's parent
    launcher = found["launcher"]
    assert found["panel"] is False
    assert isinstance(launcher, list) and launcher[:2] == ["sh", "-c"]


@pytest.mark.parametrize(
    "argv",
    [
        ["/opt/conda/bin/python3.11", "/opt/conda/bin/jupyter-lab", "--no-browser"],
        ["/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python", "/x/bin/jupyter-notebook"],
        ["/usr/bin/jupyter-server", "--no-browser"],
        ["python", "-m", "jupyterlab"],
        ["python3", "-m", "jupyter_server"],
        ["/usr/local/bin/jupyter", "lab"],
        ["python", "/srv/bin/jupyterhub-singleuser", "--port=8888"],
    ],
)
def test_jupyter_servers_are_recognised(argv: list[str]) -> None:
    assert context.is_jupyter_server(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["python", "-m", "ipykernel_launcher", "-f", "/root/.local/share/jupyter/runtime/k.json"],
        ["/bin/bash", "-l"],
        ["python", "/x/bin/jupyter-nbconvert", "--to", "html"],
        ["jupyter", "nbconvert", "lab.ipynb"],
        ["code-server", "--port", "8888"],
        [],
    ],
)
def test_other_programs_are_not_jupyter_servers(argv: list[str]) -> None:
    assert not context.is_jupyter_server(argv)


def test_the_panels_lines_are_single_lines_that_name_the_command() -> None:
    lines = [
        context.panel_hint("the keyring is locked", "unlock"),
        context.not_saved(keyring_exists=True),
        context.not_saved(keyring_exists=False),
    ]
    for line, command in zip(lines, ("unlock", "unlock", "login")):
        assert "\n" not in line and line.startswith("git-credential-sagemaker: ")
        assert line.endswith(f"git-credential-sagemaker {command}")
