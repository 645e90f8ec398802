"""Which credential helpers git runs for a URL, in order, and whether any comes after ours.

    git config --list (in order) --> credential.helper and credential.<url>.helper that match
                                     --> the chain (an empty value clears it, as in git)
                                     --> the helpers after ours

`quit=1` stops every helper after ours as well as git's own prompt, so the helper sends it
only when nobody after it could answer. Every matching `credential.<url>.helper` counts, not
only the most specific one: git's credential config applies them all (urlmatch's select-all).
URL matching follows git's urlmatch: scheme, user (when the pattern names one), host with `*`
per label, port, and a path prefix at a segment boundary. A pattern path can't be checked
without the request's path (git sends it only with useHttpPath): such a helper counts, since
counting one too many costs only a quit not sent, and GIT_TERMINAL_PROMPT=0 still holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Callable, Optional
from urllib.parse import unquote

DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21", "ftps": "990"}


def _split(url: str) -> Optional[tuple[str, Optional[str], str, str, str]]:
    """(scheme, user, host, port, path) of a URL, lower-cased where git normalises it."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        return None
    authority, _, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    user = unquote(userinfo.partition(":")[0]) if at else None
    if hostport.startswith("["):  # an IPv6 literal: its port follows the bracket
        host, _, port = hostport.partition("]")
        host, port = host + "]", port.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    scheme = scheme.lower()
    return scheme, user, host.lower(), port or DEFAULT_PORTS.get(scheme, ""), path.strip("/")


def url_matches(pattern: str, url: str) -> bool:
    """Whether a `credential.<pattern>.*` setting applies to `url` (git's urlmatch rules)."""
    want, have = _split(pattern), _split(url)
    if want is None or have is None:
        return False
    scheme, user, host, port, path = want
    if scheme != have[0] or (user is not None and user != have[1]) or port != have[3]:
        return False
    labels, theirs = host.split("."), have[2].split(".")
    if len(labels) != len(theirs) or not all(map(fnmatchcase, theirs, labels)):
        return False
    if not path or not have[4]:
        return True
    return have[4] == path or have[4].startswith(path + "/")


def helpers_for(entries: Iterable[tuple[str, str]], url: str) -> list[str]:
    """The helpers git runs for `url`, in order, from config entries in git's order."""
    chain: list[str] = []
    for key, value in entries:
        name = key.lower()
        if not (name.startswith("credential.") and name.endswith(".helper")):
            continue
        middle = key[len("credential.") : -len(".helper")]
        if name != "credential.helper" and not url_matches(middle, url):
            continue
        if value:
            chain.append(value)
        else:
            chain.clear()
    return chain


def helpers_after(
    entries: Sequence[tuple[str, str]], url: str, ours: Callable[[str], bool]
) -> list[str]:
    """The helpers git runs after ours for `url`; none when ours is not in the chain."""
    chain = helpers_for(entries, url)
    first = next((i for i, value in enumerate(chain) if ours(value)), None)
    return [] if first is None else chain[first + 1 :]
