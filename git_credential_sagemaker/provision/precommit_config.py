"""`.pre-commit-config.yaml`: our two hooks in the user's file, in pre-commit's own conventions.

    file text --ruamel.yaml--> data --the changes, as data--> what the file should hold
    file text --the same changes, as edits of a few lines--> new text
    new text --parsed back--> compared with what it should hold --> written by provision.repo

The hooks are a `repo: local` entry with `language: python` and this package pinned in
`additional_dependencies`, so a colleague's plain `pre-commit install` builds their environment
from the package index, and `default_install_hook_types` names all four git hooks they use.
On a notebook instance, `repo` builds that environment from the wheelhouse into pre-commit's
cache on the volume, so it needs no network after a restart either.

Edits touch only the lines they change (our old `language: system` hooks, an older pin, a new
entry after the last repo, the hook types at the end), so the user's other hooks, comments and
layout stay byte for byte. A full round-trip dump is the fallback for unusual layouts.

The file comes with the repository, so it is read like the hooks read the tree (never through a
symlink that leads outside), and YAML whose aliases would expand without bound (a "billion
laughs" bomb) is refused before ruamel.yaml builds anything (hooks.yaml_aliases).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.hooks import notebooks_to_py, py_to_notebooks, util, yaml_aliases
from git_credential_sagemaker.provision import wheelhouse

CONFIG = ".pre-commit-config.yaml"
PROJECT = wheelhouse.PROJECT
# post-commit comes last, so the lists of configs written before it gain one item at their end:
# it rebuilds the notebooks after the commit that concludes a conflicted merge or a cherry-pick,
# where git runs no post-merge hook.
HOOK_TYPES = ("pre-commit", "post-checkout", "post-merge", "post-rewrite", "post-commit")
INSTALL_TYPES = "default_install_hook_types"
# pre-commit's own interpreter (any Python 3 matches it), so the environment's folder name does
# not depend on which pythonX.Y the PATH of the process running git happens to hold.
LANGUAGE_VERSION = "python3"
LOCAL_COMMENT = (
    "# Notebook hooks of git-credential-sagemaker; pre-commit installs it from the package index"
    " (not there? PIP_NO_INDEX=1 PIP_FIND_LINKS=<a folder of its wheels> pre-commit install-hooks)"
)
OLD_COMMENT = "# Notebook hooks of git-credential-sagemaker; system hooks need no network."
TYPES_COMMENT = "# A plain `pre-commit install` sets up every git hook the notebook hooks use."


def local_hooks(version: str) -> tuple[dict[str, Any], ...]:
    """The two hooks of .pre-commit-hooks.yaml as `repo: local` hooks pinned to `version`.

    .pre-commit-hooks.yaml is not part of the installed package, so this table repeats its
    fields (a test keeps the two in step).
    """
    common = {
        "language": "python",
        "language_version": LANGUAGE_VERSION,
        "additional_dependencies": [f"{PROJECT}=={version}"],
        "pass_filenames": False,
        "always_run": True,
    }
    return (
        {
            "id": notebooks_to_py.NAME,
            "name": "notebooks to .py scripts",
            "entry": notebooks_to_py.PROG,
            **common,
            "stages": ["pre-commit"],
        },
        {
            "id": py_to_notebooks.NAME,
            "name": ".py scripts to notebooks",
            "entry": py_to_notebooks.PROG,
            **common,
            "stages": ["post-checkout", "post-merge", "post-rewrite", "post-commit", "manual"],
            "verbose": True,  # pre-commit shows a passing hook's output only then
        },
    )


VERSION = wheelhouse.installed_version()
LOCAL_HOOKS = local_hooks(VERSION)
_PROGS = {hook["id"]: hook["entry"] for hook in LOCAL_HOOKS}
_STAGES = {hook["id"]: hook["stages"] for hook in LOCAL_HOOKS}
# A hook brought up to date gains `verbose: true` where ours has it; its absence alone is
# the user's choice, never a reason to edit the config.
_VERBOSE = {hook["id"] for hook in LOCAL_HOOKS if hook.get("verbose")}


class ConfigState(NamedTuple):
    text: Optional[str]  # None when there is no .pre-commit-config.yaml
    missing: list[dict[str, Any]]  # our hooks it lacks (by id)
    outdated: list[str]  # our hooks it has, as `language: system` or pinned to an older version
    types_missing: list[str]  # HOOK_TYPES that default_install_hook_types lacks
    merged: Optional[str]  # the new text when something is to change

    def changes(self) -> list[str]:
        """What writing `merged` does, one phrase each, for setup's report."""
        if self.merged is None:
            return []
        if self.text is None:
            ids = " and ".join(h["id"] for h in self.missing)
            return [f"created with the {ids} hooks (repo: local, staged)"]
        found = []
        if self.outdated:
            found.append(
                f"the {' and '.join(self.outdated)} hooks now install {PROJECT}=={VERSION} "
                "with language: python, so a colleague's pre-commit builds them too (staged)"
            )
        if self.missing:
            ids = " and ".join(h["id"] for h in self.missing)
            found.append(f"added the {ids} hooks (repo: local, staged)")
        if self.types_missing:
            found.append(
                f"{INSTALL_TYPES} now lists {', '.join(self.types_missing)}, so a plain "
                "`pre-commit install` sets up every hook (staged)"
            )
        return found

    def problems(self) -> list[str]:
        """What is missing or stale, one phrase each, for doctor."""
        found = []
        if self.missing:
            found.append(
                f"{CONFIG} lacks the {' and '.join(h['id'] for h in self.missing)} hook(s)"
            )
        if self.outdated:
            found.append(
                f"{CONFIG} has the {' and '.join(self.outdated)} hook(s) in an older form "
                f"(`language: system`, which a colleague's pre-commit can't run, a pin below "
                f"{VERSION}, or stages without post-commit, so a concluded merge leaves "
                "notebooks stale)"
            )
        if self.types_missing:
            found.append(
                f"{CONFIG}'s {INSTALL_TYPES} lacks {', '.join(self.types_missing)}, so a plain "
                "`pre-commit install` leaves those hooks out"
            )
        return found


# --- reading ------------------------------------------------------------------------------


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


def _alias_problem(text: str) -> Optional[str]:
    """Why the text's aliases are refused (yaml_aliases), or None; syntax is the load's to tell."""
    try:
        return yaml_aliases.problem(_yaml().parse(text))
    except YAMLError:
        return None


def _parsed(text: str) -> Any:
    """The text's content as plain data, or None when it is not valid YAML."""
    if _alias_problem(text) is not None:
        return None
    try:
        return _plain(_yaml().load(text))
    except YAMLError:
        return None


def _load_config(text: str) -> Any:
    problem = _alias_problem(text)
    if problem is not None:
        raise SetupError(f"{CONFIG} {problem}; write the repeated parts out")
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


def _pinned(dep: Any) -> Optional[Version]:
    """The version `dep` asks of this package (None: `dep` is another package).

    An exact pin gives its version; a range of the user's own counts as the installed version
    while it allows it, so it is kept.
    """
    try:
        req = Requirement(str(dep))
    except InvalidRequirement:
        return None
    if canonicalize_name(req.name) != PROJECT:
        return None
    pins = [s.version for s in req.specifier if s.operator == "=="]
    try:
        if len(pins) == 1:
            return Version(pins[0])
        return Version(VERSION) if req.specifier.contains(VERSION, True) else Version("0")
    except InvalidVersion:
        return Version("0")


def _ours(data: Any) -> list[CommentedMap]:
    """Our hooks in `repo: local` entries: our id, running our console script."""
    found: list[CommentedMap] = []
    for repo in data.get("repos") or []:
        if repo.get("repo") != "local" or not isinstance(repo.get("hooks"), list):
            continue
        for hook in repo["hooks"]:
            if isinstance(hook, CommentedMap) and str(hook.get("entry", "")).split()[:1] == [
                _PROGS.get(str(hook.get("id")))
            ]:
                found.append(hook)
    return found


def _stages_missing(hook: CommentedMap) -> list[str]:
    """The stages ours runs in that the hook's own `stages:` list leaves out (none if unset)."""
    stages = hook.get("stages")
    if not isinstance(stages, list):
        return []
    return [s for s in _STAGES.get(str(hook.get("id")), []) if s not in stages]


def _pin_stale(hook: CommentedMap) -> bool:
    """Whether a hook of ours is `language: system`, or pins none or an older version."""
    if hook.get("language") != "python":
        return True
    deps = hook.get("additional_dependencies")
    pins = [v for v in map(_pinned, deps if isinstance(deps, list) else []) if v is not None]
    try:
        return not pins or max(pins) < Version(VERSION)
    except InvalidVersion:
        return False


def _stale(hook: CommentedMap) -> bool:
    """Whether a hook of ours cannot be installed by pre-commit, pins an older version, or
    leaves out a stage it runs in (a config written before the post-commit stage)."""
    return bool(_stages_missing(hook)) or _pin_stale(hook)


def _wanted_deps(hook: CommentedMap) -> list[Any]:
    """The hook's dependencies with ours pinned to this version, in the place it had."""
    deps = hook.get("additional_dependencies")
    deps = list(deps) if isinstance(deps, list) else []
    want = f"{PROJECT}=={VERSION}"
    if not any(_pinned(d) is not None for d in deps):
        return [*deps, want]
    return [want if _pinned(d) is not None else d for d in deps]


# --- the changes, as data -------------------------------------------------------------------


def _flow(items: Sequence[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()  # `stages: [pre-commit]`, as in .pre-commit-hooks.yaml
    return seq


def _local_entry(hooks: list[dict[str, Any]]) -> CommentedMap:
    entries = CommentedSeq()
    for hook in hooks:
        entry = CommentedMap(hook)
        for key in ("additional_dependencies", "stages"):
            entry[key] = _flow(hook[key])
        entries.append(entry)
    return CommentedMap([("repo", "local"), ("hooks", entries)])


def _change_data(doc: Any, missing: list[dict[str, Any]], types: list[str]) -> None:
    """Apply every change to the round-trip document itself."""
    for hook in _ours(doc):
        if not _stale(hook):
            continue
        if hook.get("language") != "python":
            hook.pop("language_version", None)
            hook["language"] = "python"
            hook.insert(list(hook).index("language") + 1, "language_version", LANGUAGE_VERSION)
        hook["additional_dependencies"] = _flow(_wanted_deps(hook))
        if _stages_missing(hook):
            hook["stages"] = _flow([*hook["stages"], *_stages_missing(hook)])
        if str(hook.get("id")) in _VERBOSE and "verbose" not in hook:
            hook["verbose"] = True
    if missing:
        if doc.get("repos") is None:
            doc["repos"] = CommentedSeq()
        doc["repos"].append(_local_entry(missing))
    if types:
        now = doc.get(INSTALL_TYPES)
        doc[INSTALL_TYPES] = _flow([*(now if isinstance(now, list) else []), *types])


# --- the same changes, as edits of a few lines ---------------------------------------------


def _eol(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


_SCALAR = re.compile(r"""("[^"\n]*"|'[^'\n]*'|[^\s,\]}#]+)""")


def _replace_scalar(line: str, col: int, new: str) -> Optional[str]:
    """The line with the scalar token starting at col replaced by `new`."""
    match = _SCALAR.match(line, col)
    return None if match is None else line[:col] + new + line[match.end() :]


def _migrate_text(text: str) -> Optional[str]:
    """Our stale hooks brought up to date by editing only their own lines; None if unsure."""
    data = _load_config(text)
    lines = text.splitlines(keepends=True)
    eol = _eol(text)
    replace: dict[int, tuple[int, str]] = {}
    insert: dict[int, list[str]] = {}
    for hook in _ours(data):
        if not _stale(hook):
            continue
        if hook.fa.flow_style():
            return None
        deps = hook.get("additional_dependencies")
        want = f"{PROJECT}=={VERSION}"
        stages = hook.get("stages")
        if _stages_missing(hook):
            if not isinstance(stages, CommentedSeq) or not stages.fa.flow_style():
                return None
            line, col = hook.lc.value("stages")
            close = lines[line].find("]", col)
            if not lines[line].startswith("[", col) or close < 0 or line in replace:
                return None
            listed = ", ".join([*(str(s) for s in stages), *_stages_missing(hook)])
            lines[line] = f"{lines[line][:col]}[{listed}]{lines[line][close + 1 :]}"
        if str(hook.get("id")) in _VERBOSE and "verbose" not in hook:
            if not isinstance(stages, CommentedSeq) or not stages.fa.flow_style():
                return None
            line = hook.lc.value("stages")[0]
            if lines[line].rstrip().endswith(("[", ",")):
                return None  # a list over several lines: the round-trip dump handles it
            key_col = hook.lc.key("stages")[1]
            insert.setdefault(line, []).append(f"{' ' * key_col}verbose: true{eol}")
        if not _pin_stale(hook):
            continue
        if hook.get("language") != "python":
            if "language" not in hook or "language_version" in hook or deps is not None:
                return None  # rare forms: the round-trip dump handles them
            line, col = hook.lc.value("language")
            key_col = hook.lc.key("language")[1]
            replace[line] = (col, "python")
            insert[line] = [
                f"{' ' * key_col}language_version: {LANGUAGE_VERSION}{eol}",
                f"{' ' * key_col}additional_dependencies: [{want}]{eol}",
            ]
        else:
            if not isinstance(deps, CommentedSeq):
                return None
            ours = [i for i, dep in enumerate(deps) if _pinned(dep) is not None]
            if len(ours) != 1:
                return None
            line, col = deps.lc.item(ours[0])
            if line in replace:
                return None
            replace[line] = (col, want)
    for number, (col, new) in replace.items():
        changed = _replace_scalar(lines[number], col, new)
        if changed is None:
            return None
        lines[number] = changed
    if insert:  # the comment setup wrote above the old `language: system` entry
        for number, line in enumerate(lines):
            if line.strip() == OLD_COMMENT:
                lines[number] = line.replace(OLD_COMMENT, LOCAL_COMMENT)
    for number in sorted(insert, reverse=True):
        if not lines[number].endswith("\n"):
            lines[number] += eol
        lines[number + 1 : number + 1] = insert[number]
    return "".join(lines)


def _insert_entry(text: str, entry: CommentedMap) -> Optional[str]:
    """The text with the entry added after the last repo, leaving every other byte alone.

    The entry is dumped in the file's own sequence indentation, and inserted after the last
    line that belongs to the last repo (deeper-indented lines and comments), so a trailing
    comment at the top level stays where it was. None when the layout is not a plain block
    list (flow style, `repos:` with no value), for the caller to fall back to a full dump.
    """
    data = _load_config(text)
    lines = text.splitlines(keepends=True)
    eol = _eol(text)
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


def _add_types_text(text: str, types: list[str]) -> Optional[str]:
    """default_install_hook_types with `types` added: a new last line, or added to its list."""
    data = _load_config(text)
    eol = _eol(text)
    now = data.get(INSTALL_TYPES)
    if now is None and INSTALL_TYPES not in data:
        tail = "" if not text or text.endswith("\n") else eol
        return f"{text}{tail}{TYPES_COMMENT}{eol}{INSTALL_TYPES}: [{', '.join(types)}]{eol}"
    if not isinstance(now, CommentedSeq) or not now:
        return None
    lines = text.splitlines(keepends=True)
    if not now.fa.flow_style():  # a block list: one more `- type` line after its last item
        line, col = now.lc.item(len(now) - 1)
        prefix = lines[line][:col]
        if prefix.strip() != "-" or not lines[line].endswith("\n"):
            return None
        lines[line + 1 : line + 1] = [f"{prefix}{t}{eol}" for t in types]
        return "".join(lines)
    line, col = data.lc.value(INSTALL_TYPES)
    close = lines[line].find("]", col)
    if not lines[line].startswith("[", col) or close < 0:
        return None
    listed = ", ".join([*(str(t) for t in now), *types])
    lines[line] = f"{lines[line][:col]}[{listed}]{lines[line][close + 1 :]}"
    return "".join(lines)


def _edited(text: str, missing: list[dict[str, Any]], types: list[str]) -> Optional[str]:
    """Every change made as line edits, or None when one of them is unsure of the layout."""
    steps: list[Callable[[str], Optional[str]]] = [_migrate_text]
    if missing:
        steps.append(lambda t: _insert_entry(t, _local_entry(missing)))
    if types:
        steps.append(lambda t: _add_types_text(t, types))
    for step in steps:
        try:
            result = step(text)
        except SetupError:  # an edit that broke the YAML: the caller falls back
            return None
        if result is None:
            return None
        text = result
    return text


def _new_file() -> str:
    types = f"{INSTALL_TYPES}: [{', '.join(HOOK_TYPES)}]"
    repos = _dump({"repos": [_local_entry(list(LOCAL_HOOKS))]}, _yaml())
    return f"{TYPES_COMMENT}\n{types}\n{LOCAL_COMMENT}\n{repos}"


def _merge_config(text: str, missing: list[dict[str, Any]], types: list[str]) -> str:
    """The config text with every change made, checked by parsing it back."""
    doc = _load_config(text)
    _change_data(doc, missing, types)
    want = _plain(doc)
    merged = _edited(text, missing, types)
    if merged is None or _parsed(merged) != want:
        # Rare layouts: a full round-trip dump, which keeps comments but may re-indent.
        merged = _dump(doc, _yaml())
        if _parsed(merged) != want:
            ids = ", ".join(h["id"] for h in LOCAL_HOOKS)
            raise SetupError(
                f"cannot update {CONFIG} automatically; give it a `repo: local` entry with the "
                f"hooks {ids} as in `{PROJECT}`'s .pre-commit-hooks.yaml, by hand"
            )
    return merged


def _read(root: str) -> Optional[str]:
    """The config's text (None: there is none); one that leads outside the tree is refused."""
    try:
        raw = util.read_in_tree(root, CONFIG)
    except util.PathError as err:
        raise SetupError(f"{err}; make it a regular file in the repository") from None
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


def our_hooks(root: str) -> list[dict[str, Any]]:
    """Our hooks as the repository's config has them, as plain data ([] when it has none)."""
    text = _read(root)
    if text is None:
        return []
    return [_plain(hook) for hook in _ours(_load_config(text))]


def local_config(hooks: list[dict[str, Any]]) -> str:
    """A config holding only these hooks, as one `repo: local` entry."""
    return _dump({"repos": [{"repo": "local", "hooks": hooks}]}, _yaml())


def config_state(root: str) -> ConfigState:
    text = _read(root)
    if text is None:
        return ConfigState(None, list(LOCAL_HOOKS), [], list(HOOK_TYPES), _new_file())
    data = _load_config(text)
    present = {
        str(hook.get("id"))
        for repo in data.get("repos") or []
        for hook in repo.get("hooks") or []
        if isinstance(hook, dict)
    }
    missing = [hook for hook in LOCAL_HOOKS if hook["id"] not in present]
    outdated = [str(hook["id"]) for hook in _ours(data) if _stale(hook)]
    listed = data.get(INSTALL_TYPES)
    listed = [str(t) for t in listed] if isinstance(listed, list) else []
    types = [t for t in HOOK_TYPES if t not in listed]
    if not (missing or outdated or types):
        return ConfigState(text, [], [], [], None)
    return ConfigState(text, missing, outdated, types, _merge_config(text, missing, types))
