"""`.pre-commit-config.yaml`: add the notebook hooks to a user's file without disturbing it.

    file text --ruamel.yaml--> data --our entry, in the file's own indentation--> new text
    new text --parsed back--> compared with the data we meant --> written by provision.repo

ruamel.yaml parses the file and renders our `repo: local` entry in its indentation, which
goes in as text after the last repo, so other hooks, comments and layout stay byte for byte.
A full round-trip dump is the fallback for flow-style lists.
"""

from __future__ import annotations

import io
import os
from typing import Any, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.hooks import notebooks_to_py, py_to_notebooks, util

CONFIG = ".pre-commit-config.yaml"

# The two hooks of .pre-commit-hooks.yaml as `repo: local` hooks. SageMaker instances often run
# without internet, and the helper's package (with both console scripts) is reinstalled from a
# wheelhouse on every start, so a `language: system` hook needs no network to build an
# environment, unlike `language: python` from a remote repo. .pre-commit-hooks.yaml is not part
# of the installed package, so this table repeats its fields (a test keeps the two in step).
LOCAL_HOOKS: tuple[dict[str, Any], ...] = (
    {
        "id": notebooks_to_py.NAME,
        "name": "notebooks to .py scripts",
        "entry": notebooks_to_py.PROG,
        "language": "system",
        "pass_filenames": False,
        "always_run": True,
        "stages": ["pre-commit"],
    },
    {
        "id": py_to_notebooks.NAME,
        "name": ".py scripts to notebooks",
        "entry": py_to_notebooks.PROG,
        "language": "system",
        "pass_filenames": False,
        "always_run": True,
        "stages": ["post-checkout", "post-merge", "post-rewrite"],
    },
)
LOCAL_COMMENT = "# Notebook hooks of git-credential-sagemaker; system hooks need no network."


class ConfigState(NamedTuple):
    text: str | None  # None when there is no .pre-commit-config.yaml
    missing: list[dict[str, Any]]  # our hooks it lacks (by id)
    merged: str | None  # the new text when something is missing


def _yaml(mapping: int = 2, sequence: int = 4, offset: int = 2) -> YAML:
    yaml = YAML()  # round-trip: keeps comments, quotes and key order
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(data: Any, yaml: YAML) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _plain(data: Any) -> Any:
    """Round-trip YAML nodes as plain dicts and lists, to compare documents by content."""
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_plain(value) for value in data]
    return data


def _parsed(text: str) -> Any:
    """The text's content as plain data, or None when it is not valid YAML."""
    try:
        return _plain(_yaml().load(text))
    except YAMLError:
        return None


def _local_entry(hooks: list[dict[str, Any]]) -> CommentedMap:
    entries = CommentedSeq()
    for hook in hooks:
        entry = CommentedMap(hook)
        stages = CommentedSeq(hook["stages"])
        stages.fa.set_flow_style()  # `stages: [pre-commit]`, as in .pre-commit-hooks.yaml
        entry["stages"] = stages
        entries.append(entry)
    return CommentedMap([("repo", "local"), ("hooks", entries)])


def _load_config(text: str) -> Any:
    try:
        data = _yaml().load(text)
    except YAMLError as err:
        where = ""
        if isinstance(err, MarkedYAMLError) and err.problem_mark is not None:
            where = f" at line {err.problem_mark.line + 1}"
        problem = getattr(err, "problem", None) or type(err).__name__
        raise SetupError(f"{CONFIG} is not valid YAML ({problem}{where}); fix it") from None
    if data is None:
        return CommentedMap()
    repos = data.get("repos") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not (
        repos is None or (isinstance(repos, list) and all(isinstance(r, dict) for r in repos))
    ):
        raise SetupError(f"{CONFIG} is not a pre-commit config (a `repos:` list); fix it")
    return data


def _insert_as_text(text: str, data: Any, entry: CommentedMap) -> str | None:
    """The text with the entry added after the last repo, leaving every other byte alone.

    The entry is dumped in the file's own sequence indentation, and inserted after the last
    line that belongs to the last repo (deeper-indented lines and comments), so a trailing
    comment at the top level stays where it was. None when the layout is not a plain block
    list (flow style, `repos:` with no value), for the caller to fall back to a full dump.
    """
    lines = text.splitlines(keepends=True)
    eol = "\r\n" if "\r\n" in text else "\n"  # the file's own line ending
    if "repos" not in data:
        block = f"{LOCAL_COMMENT}\n" + _dump({"repos": [entry]}, _yaml())
        return text + (eol if text and not text.endswith("\n") else "") + block.replace("\n", eol)
    repos = data["repos"]
    if not isinstance(repos, CommentedSeq) or not repos or repos.fa.flow_style():
        return None
    key_col = data.lc.key("repos")[1]
    first_line, first_col = repos.lc.item(0)
    prefix = lines[first_line][:first_col]
    if not prefix.rstrip().endswith("-") or prefix.rstrip()[:-1].strip():
        return None
    dash_col = len(prefix.rstrip()) - 1
    sequence, offset = first_col - key_col, dash_col - key_col
    if key_col != 0 or offset < 0 or sequence < offset + 2:
        return None
    end = repos.lc.item(len(repos) - 1)[0]
    for number in range(end + 1, len(lines)):
        line = lines[number]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip(" ")) <= dash_col:
            break
        end = number
    yaml = _yaml(mapping=sequence - offset, sequence=sequence, offset=offset)
    block = _dump({"repos": [entry]}, yaml).split("\n", 1)[1]
    head = "".join(lines[: end + 1])
    if not head.endswith("\n"):
        head += eol
    added = (" " * dash_col + LOCAL_COMMENT + "\n" + block).replace("\n", eol)
    return head + added + "".join(lines[end + 1 :])


def _merge_config(text: str, data: Any, hooks: list[dict[str, Any]]) -> str:
    """The config text with a `repo: local` entry for the hooks, checked by parsing it back."""
    entry = _local_entry(hooks)
    old = _plain(data)
    want = {**old, "repos": [*(old.get("repos") or []), _plain(entry)]}
    merged = _insert_as_text(text, data, entry)
    if merged is None or _parsed(merged) != want:
        # Rare layouts: a full round-trip dump, which keeps comments but may re-indent.
        rt = _yaml()
        doc = rt.load(text)
        if doc is None:
            doc = CommentedMap()
        if doc.get("repos") is None:
            doc["repos"] = CommentedSeq()
        doc["repos"].append(entry)
        merged = _dump(doc, rt)
        if _parsed(merged) != want:
            raise SetupError(
                f"cannot add the notebook hooks to {CONFIG} automatically; add a `repo: local` "
                f"entry with the hooks {', '.join(h['id'] for h in hooks)} by hand"
            )
    return merged


def config_state(root: str) -> ConfigState:
    raw = util.read_bytes(os.path.join(root, CONFIG))
    text = raw.decode("utf-8", "surrogateescape") if raw is not None else None
    data = _load_config(text) if text is not None else CommentedMap()
    present = {
        str(hook.get("id"))
        for repo in data.get("repos") or []
        for hook in repo.get("hooks") or []
        if isinstance(hook, dict)
    }
    missing = [hook for hook in LOCAL_HOOKS if hook["id"] not in present]
    merged = _merge_config(text or "", data, missing) if missing else None
    return ConfigState(text, missing, merged)
