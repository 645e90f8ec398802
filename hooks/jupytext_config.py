"""The repository's jupytext configuration, found as jupytext finds it and read as data only.

    root --find--> the first of CONFIG_FILE_NAMES that is a file (pyproject.toml only with a
                   [tool.jupytext] table), read with util.read_in_tree
         --load--> its text --jupytext's own parser for that name--> a JupytextConfiguration

jupytext would open the file itself, and it runs `.jupytext.py` as Python. A configuration is
part of the repository, and so is written by whoever made the last commit: here it is read
like any other file of the tree, never through a symlink that leads outside (whose content
could end up quoted in an error), and a `.jupytext.py` that jupytext would pick is refused
in one line rather than run. The text then goes to jupytext's parser with the file's name,
so TOML, YAML and JSON mean exactly what they mean to jupytext; YAML is first checked for
aliases that expand without bound (yaml_aliases).

`find` needs no jupytext (the hooks' skip path and `setup` only ask whether there is one);
`load` imports it.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NamedTuple, Optional

from . import yaml_aliases
from .util import ConfigError, PathError, escape, read_in_tree

# jupytext.config.JUPYTEXT_CONFIG_FILES, in jupytext's order (the first that is a file wins),
# then pyproject.toml, which counts when it has a [tool.jupytext] table.
PYTHON_CONFIG = ".jupytext.py"
PYPROJECT = "pyproject.toml"
CONFIG_FILE_NAMES = (
    "jupytext",
    "jupytext.toml",
    "jupytext.yml",
    "jupytext.yaml",
    "jupytext.json",
    ".jupytext",
    ".jupytext.toml",
    ".jupytext.yml",
    ".jupytext.yaml",
    ".jupytext.json",
    PYTHON_CONFIG,
    PYPROJECT,
)
MAX_DETAIL = 300  # characters of a parser's message quoted in an error


class Found(NamedTuple):
    name: str  # relative to the root
    text: str


def _one_line(text: str) -> str:
    said = " ".join(text.split())
    return escape(said if len(said) <= MAX_DETAIL else said[:MAX_DETAIL] + "...")


def _read(root: str, name: str) -> Optional[str]:
    """The file's text when jupytext would take it (a file, symlinks followed), else None."""
    if not os.path.isfile(os.path.join(root, name)):
        return None
    try:
        data = read_in_tree(root, name)
    except PathError as err:
        raise ConfigError(f"{err}; make it a regular file in the repository") from None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{name} is not UTF-8 text (byte {err.start}); fix it") from None


def _toml(name: str, text: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - jupytext requires tomli there
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{name} is not valid TOML ({_one_line(str(err))}); fix it") from None


def find(root: str) -> Optional[Found]:
    """The configuration jupytext would use at the root (parents and home are not the repo's)."""
    for name in CONFIG_FILE_NAMES[:-1]:
        if name == PYTHON_CONFIG:
            if os.path.isfile(os.path.join(root, name)):
                raise ConfigError(
                    f"{name} is Python, and nothing from a repository is ever run, so it is "
                    "not read; put its settings in jupytext.toml and delete it"
                )
            continue
        text = _read(root, name)
        if text is not None:
            return Found(name, text)
    text = _read(root, PYPROJECT)
    if text is None:
        return None
    tool = _toml(PYPROJECT, text).get("tool")
    if isinstance(tool, dict) and tool.get("jupytext") is not None:
        return Found(PYPROJECT, text)
    return None


def load(root: str) -> Any:
    """The JupytextConfiguration at the root, or None; ConfigError (one line) if it is bad."""
    found = find(root)
    if found is None:
        return None
    from jupytext.config import (  # type: ignore[import-untyped]
        load_jupytext_configuration_file,
    )

    name = found.name
    if name.endswith((".yml", ".yaml")):
        _check_aliases(name, found.text)
    try:
        # With the text given, jupytext parses it by the name's ending and opens nothing.
        return load_jupytext_configuration_file(name, found.text)
    except Exception as err:
        raise ConfigError(
            f"{name}: {type(err).__name__}: {_one_line(str(err))}; fix or remove {name}"
        ) from None


def _check_aliases(name: str, text: str) -> None:
    import yaml  # type: ignore[import-untyped,unused-ignore]

    try:
        problem = yaml_aliases.problem(yaml.parse(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return  # jupytext's own parse says where
    if problem is not None:
        raise ConfigError(f"{name} {problem}; write the repeated parts out")
