"""git's credential helper protocol: parse a request, match entries, format an answer.

Pure functions over bytes, as git-credential(1) describes the wire format::

    git --stdin--> key=value\\n ... \\n --> parse() --> Request
    Request --> matches(entry) / answer() --> key=value\\n ... --> stdout --> git

Input is read as bytes, never through text-mode stdin: text mode turns a bare CR into a
newline, which lets a crafted value smuggle in a second key (the CVE-2024-52006 class).
This module is on the hot path of `get`, so it imports nothing heavy.
"""

from __future__ import annotations

from git_credential_sagemaker.errors import UsageError

TYPE_CHECKING = False  # typing itself costs more to import than a whole `get`
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Final

MAX_LINE = 65535
MAX_REQUEST = 1 << 20

# Attributes a stored entry is keyed on, in the order `git credential` prints them.
KEY_FIELDS = ("protocol", "host", "path", "username")
# Secrets and their companions: stored encrypted, printed by `get`.
SECRET_FIELDS = ("password", "password_expiry_utc", "oauth_refresh_token", "authtype", "credential")
AUTHTYPE_FIELDS = ("authtype", "credential")
# Every attribute of a Request, in its constructor's order.
FIELDS = (
    *KEY_FIELDS,
    *SECRET_FIELDS,
    "ephemeral",
    "capabilities",
    "wwwauth",
    "state",
    "continue_",
    "quit",
    "check",
)
# What GitHub said of a token, passed from the helper to the agent with a `store`. git never
# sends attributes a helper did not give it, so only this package writes this line.
CHECK_KEY = "sagemaker_check"


class ProtocolError(UsageError):
    """A request git could never have sent; the helper answers nothing."""


class Request:
    """One credential description. `None` means git did not send the attribute.

    A plain class with slots, not a NamedTuple or a dataclass: `get` runs on every push,
    and importing typing or dataclasses costs more than the whole agent round trip.
    Treated as immutable; two requests are equal when every field is.
    """

    __slots__ = FIELDS

    def __init__(
        self,
        protocol: str | None = None,
        host: str | None = None,
        path: str | None = None,
        username: str | None = None,
        password: str | None = None,
        password_expiry_utc: str | None = None,
        oauth_refresh_token: str | None = None,
        authtype: str | None = None,
        credential: str | None = None,
        ephemeral: bool = False,
        capabilities: tuple[str, ...] = (),
        wwwauth: tuple[str, ...] = (),
        state: tuple[str, ...] = (),
        continue_: bool = False,
        quit: bool = False,
        check: str | None = None,
    ) -> None:
        self.protocol: Final[str | None] = protocol
        self.host: Final[str | None] = host
        self.path: Final[str | None] = path
        self.username: Final[str | None] = username
        self.password: Final[str | None] = password
        self.password_expiry_utc: Final[str | None] = password_expiry_utc
        self.oauth_refresh_token: Final[str | None] = oauth_refresh_token
        self.authtype: Final[str | None] = authtype
        self.credential: Final[str | None] = credential
        self.ephemeral: Final[bool] = ephemeral
        self.capabilities: Final[tuple[str, ...]] = capabilities
        self.wwwauth: Final[tuple[str, ...]] = wwwauth
        self.state: Final[tuple[str, ...]] = state
        self.continue_: Final[bool] = continue_
        self.quit: Final[bool] = quit
        self.check: Final[str | None] = check

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, k) for k in FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        # Never let a secret reach a traceback or a log through repr().
        shown = {k: getattr(self, k) for k in KEY_FIELDS if getattr(self, k) is not None}
        return f"Request({shown!r})"

    @property
    def key(self) -> tuple[str | None, ...]:
        return tuple(getattr(self, k) for k in KEY_FIELDS)

    @property
    def secrets(self) -> dict[str, str]:
        """The fields a `store` keeps encrypted (and `get` prints back)."""
        return {k: v for k in SECRET_FIELDS if (v := getattr(self, k)) is not None}

    @property
    def wants_authtype(self) -> bool:
        return "authtype" in self.capabilities


def _truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def _unquote(text: str) -> str:
    if "%" not in text:
        return text
    from urllib.parse import unquote  # rare, and not cheap

    return unquote(text)


def _url_fields(url: str) -> dict[str, str | None]:
    """Split `url=` as git's credential_from_url does; it replaces every earlier field.

    Like git, a URL without a scheme is refused rather than matched against everything.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise ProtocolError("url= has no scheme")
    fields: dict[str, str | None] = dict.fromkeys((*KEY_FIELDS, "password"))
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1 and found < end:
            end = found
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        fields["username"] = _unquote(user)
        if colon:
            fields["password"] = _unquote(password)
    fields["protocol"] = scheme
    fields["host"] = _unquote(hostport)
    path = tail.partition("/")[2].split("?")[0].split("#")[0] if tail.startswith("/") else ""
    if path:
        fields["path"] = _unquote(path)
    for value in fields.values():
        if value is not None and ("\n" in value or "\r" in value or "\0" in value):
            raise ProtocolError("url= holds a control character")
    return fields


def parse(data: bytes) -> Request:
    """Parse one request. Raises ProtocolError for anything git would never send."""
    if b"\0" in data:
        raise ProtocolError("NUL byte in request")
    fields: dict[str, object] = {}
    lists: dict[str, list[str]] = {"capabilities": [], "wwwauth": [], "state": []}
    for raw in data.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if len(line) > MAX_LINE:
            raise ProtocolError("line longer than 65535 bytes")
        if not line:  # a blank line, or the end of input, ends the request
            break
        if b"\r" in line:
            raise ProtocolError("CR inside a value")
        key_b, eq, value_b = line.partition(b"=")
        if not eq:
            raise ProtocolError("line without '='")
        try:
            key, value = key_b.decode(), value_b.decode()
        except UnicodeDecodeError as exc:
            raise ProtocolError("request is not UTF-8") from exc
        if key == "url":
            for field, fvalue in _url_fields(value).items():
                fields[field] = fvalue
        elif key in KEY_FIELDS or key in SECRET_FIELDS:
            fields[key] = value
        elif key == "capability[]":
            lists["capabilities"].append(value)
        elif key == "wwwauth[]":
            lists["wwwauth"].append(value)
        elif key == "state[]":
            lists["state"].append(value)
        elif key in ("ephemeral", "quit"):
            fields[key] = _truthy(value)
        elif key == "continue":
            fields["continue_"] = _truthy(value)
        elif key == CHECK_KEY:
            fields["check"] = value
        # Any other key is ignored, as git-credential(1) asks of helpers.
    return Request(**fields, **{k: tuple(v) for k, v in lists.items()})  # type: ignore[arg-type]


def format_request(request: Request) -> bytes:
    """The wire form of a request; parse(format_request(r)) == r."""
    lines: list[tuple[str, str]] = []
    lines += [("capability[]", v) for v in request.capabilities]
    for key in KEY_FIELDS + SECRET_FIELDS:
        value = getattr(request, key)
        if value is not None:
            lines.append((key, value))
    lines += [("wwwauth[]", v) for v in request.wwwauth]
    lines += [("state[]", v) for v in request.state]
    for flag, key in (("ephemeral", "ephemeral"), ("continue_", "continue"), ("quit", "quit")):
        if getattr(request, flag):
            lines.append((key, "1"))
    if request.check is not None:
        lines.append((CHECK_KEY, request.check))
    return format_lines(lines)


def format_lines(lines: Iterable[tuple[str, str]]) -> bytes:
    out = bytearray()
    for key, value in lines:
        out += f"{key}={value}\n".encode()
    return bytes(out)


def addressed(request: Request) -> bool:
    """Whether a request names its protocol and host, as git requires of every one since 2.26.1.

    Matching treats an absent field as a wildcard, so a request without a host would match
    the first token stored for any host.
    """
    return request.protocol is not None and request.host is not None


def matches(request: Request, entry_key: Mapping[str, str | None]) -> bool:
    """git's credential_match: an attribute absent from the request matches anything."""
    for field in KEY_FIELDS:
        want = getattr(request, field)
        if want is not None and entry_key.get(field) != want:
            return False
    return True


def answer(request: Request, username: str | None, secrets: Mapping[str, str]) -> bytes:
    """The reply to `get` for one stored entry."""
    lines: list[tuple[str, str]] = []
    send_authtype = request.wants_authtype and "credential" in secrets
    if send_authtype:
        lines.append(("capability[]", "authtype"))
    if username is not None:
        lines.append(("username", username))
    for field in SECRET_FIELDS:
        if field in AUTHTYPE_FIELDS and not send_authtype:
            continue
        if field in secrets:
            lines.append((field, secrets[field]))
    return format_lines(lines)


def capability_answer(implemented: Iterable[str] = ("authtype",)) -> bytes:
    return b"version 0\n" + b"".join(f"capability {c}\n".encode() for c in implemented)


def has_control(value: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
