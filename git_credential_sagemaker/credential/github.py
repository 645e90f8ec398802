"""What GitHub says about a token: its kind, scopes and expiry, from one bounded request.

    host --api_base()--> https://api.github.com | https://HOST/api/v3 | https://api.HOST
         (or credential.<url>.sagemakerApiUrl, read by git's urlmatch rules)
    token --GET <base>/ (3 s in all, no redirects)--> X-OAuth-Scopes, token expiry header --> Check

The token goes only to that host's API, and only over HTTPS; plain http is allowed only to
a loopback address (tests, odd Enterprise setups). Redirects are never followed, so the
token can't be forwarded elsewhere. Nothing here ever blocks a push: no network, a 5xx or a
timeout is "not checked", and `doctor` or `check` can try again later. `get` never calls this.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from typing import NamedTuple, Optional

from git_credential_sagemaker.credential import web
from git_credential_sagemaker.errors import UserError

TIMEOUT = 3.0
WARN_DAYS = 7
# Token prefixes GitHub documents, and what we call each kind.
KINDS = (
    ("github_pat_", "fine-grained"),
    ("ghp_", "classic"),
    ("gho_", "OAuth"),
    ("ghu_", "GitHub App user"),
)
# What pushing needs: repo (or public_repo), plus workflow when workflow files change.
PUSH_SCOPES = frozenset(
    {"repo", "public_repo", "workflow", "repo:status", "repo_deployment", "repo:invite"}
)
LEAST = "a classic token with only `repo` (or `public_repo`), or a fine-grained token"

# Check.status values
OK, REJECTED, NOT_CHECKED = "ok", "rejected", "not checked"


class Check(NamedTuple):
    """What one request learned; secret-free, so it can be kept in the entry's metadata."""

    status: str  # ok, rejected, not checked
    kind: str  # classic, fine-grained, OAuth, GitHub App user, or "unknown"
    scopes: Optional[tuple[str, ...]]  # None when GitHub sent no scope header
    expiry: Optional[int]  # epoch seconds
    checked: str  # UTC time of the request, YYYY-MM-DDTHH:MM:SSZ
    reason: str = ""  # why it was not checked

    def to_meta(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "kind": self.kind,
                "scopes": None if self.scopes is None else list(self.scopes),
                "checked": self.checked,
                "reason": self.reason,
            },
            sort_keys=True,
        )

    @classmethod
    def from_meta(cls, text: str, expiry: Optional[str]) -> Optional[Check]:
        try:
            data = json.loads(text)
            scopes = data.get("scopes")
            return cls(
                status=str(data["status"]),
                kind=str(data["kind"]),
                scopes=None if scopes is None else tuple(str(s) for s in scopes),
                expiry=int(expiry) if expiry and expiry.isdigit() else None,
                checked=str(data["checked"]),
                reason=str(data.get("reason", "")),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    @property
    def excess(self) -> tuple[str, ...]:
        """Scopes beyond what pushing needs (delete_repo, admin:*, write:packages, ...)."""
        return tuple(s for s in self.scopes or () if s not in PUSH_SCOPES)

    def describe(self) -> str:
        """The token's kind and scopes, or "fine-grained", or "not checked"."""
        if self.status == NOT_CHECKED:
            return "not checked"
        if self.status == REJECTED:
            return "rejected by GitHub"
        if self.scopes is None:
            return "fine-grained" if self.kind in ("fine-grained", "unknown") else self.kind
        return f"{self.kind}: {', '.join(self.scopes) or 'no scopes'}"


def kind_of(token: str) -> str:
    return next((name for prefix, name in KINDS if token.startswith(prefix)), "unknown")


def api_base(host: str, configured: Optional[str]) -> Optional[str]:
    """The API to ask: credential.<url>.sagemakerApiUrl if set, else by the host's name."""
    return configured or default_base(host)


def default_base(host: str) -> Optional[str]:
    """The REST API of a host GitHub runs, by its name; None for every other host."""
    bare = host.split(":")[0].lower()
    if bare == "github.com":
        return "https://api.github.com"
    if bare.endswith(".ghe.com"):
        return f"https://api.{host}"
    if bare.startswith("github.") or ".github." in bare:  # GitHub Enterprise Server
        return f"https://{host}/api/v3"
    return None


def parse_expiry(value: str) -> Optional[int]:
    """`2021-09-03 02:34:04 UTC` or `2021-09-03 02:34:04 +0200` -> epoch seconds."""
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")] + " +0000"
    try:
        when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    return int(when.timestamp())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def check(token: str, base: str, timeout: float = TIMEOUT) -> Check:
    """One GET of the REST root with the token, all within `timeout` seconds.

    Never raises; never follows a redirect.
    """
    import http.client

    started = _now()
    kind = kind_of(token)
    safe = web.safe_base(base)
    if safe is None:
        return Check(NOT_CHECKED, kind, None, None, _stamp(started), "the API URL is not https")
    try:
        status, headers, _ = web.request(
            "GET",
            safe + "/",
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "User-Agent": "git-credential-sagemaker",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            None,
            time.monotonic() + timeout,
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = "no answer in time" if isinstance(exc, socket.timeout) else "no network"
        return Check(NOT_CHECKED, kind, None, None, _stamp(started), reason)
    if status == 401:
        return Check(REJECTED, kind, None, None, _stamp(started), "401")
    if not 200 <= status < 300:
        return Check(NOT_CHECKED, kind, None, None, _stamp(started), f"HTTP {status}")
    scope_header = headers.get("X-OAuth-Scopes")
    scopes = (
        None
        if scope_header is None
        else tuple(s.strip() for s in scope_header.split(",") if s.strip())
    )
    expiry_header = headers.get("GitHub-Authentication-Token-Expiration")
    expiry = parse_expiry(expiry_header) if expiry_header else None
    return Check(OK, kind, scopes, expiry, _stamp(started))


def warnings(result: Check, host: str, now: Optional[float] = None) -> list[str]:
    """The lines to show after a check: excess scopes, an expiry within 7 days."""
    lines: list[str] = []
    if result.excess:
        lines.append(
            f"the token for {host} has scopes pushing doesn't need ({', '.join(result.excess)}); "
            f"consider {LEAST}"
        )
    if result.expiry is not None:
        left = result.expiry - (_now().timestamp() if now is None else now)
        day = dt.datetime.fromtimestamp(result.expiry, dt.timezone.utc).strftime("%Y-%m-%d")
        if left <= 0:
            lines.append(f"the token for {host} expired on {day}")
        elif left < WARN_DAYS * 86400:
            lines.append(
                f"the token for {host} expires on {day}, in {int(left // 86400)} days; "
                f"replace it soon with: git-credential-sagemaker login {host}"
            )
    return lines


def check_for(protocol: str, host: str, token: str, timeout: float = TIMEOUT) -> Optional[Check]:
    """Check a token for a GitHub host; None for any other host, which is never contacted.

    credential.<url>.sagemakerApiUrl (git's urlmatch rules) names the API and makes any
    host a GitHub host; nothing else can point the request elsewhere.
    """
    from git_credential_sagemaker.credential import gitconfig

    try:
        configured = gitconfig.get_urlmatch("credential.sagemakerApiUrl", f"{protocol}://{host}/")
    except UserError:
        configured = None
    base = api_base(host, configured)
    if base is None:
        return None
    return check(token, base, timeout)


def rejected_line(host: str) -> str:
    return (
        f"GitHub rejected this token for {host}, so check it wasn't mistyped or revoked; "
        "it was not stored"
    )


def on_first_store(
    protocol: str, host: str, token: str, has_expiry: bool
) -> tuple[Optional[Check], dict[str, str], list[str]]:
    """Check a token git is storing for the first time.

    Returns (the check or None for other hosts, fields to add to what is stored, lines to
    say). A check whose status is REJECTED means: do not store.
    """
    from git_credential_sagemaker.credential.prompt import sanitize

    result = check_for(protocol, host, token)
    if result is None:
        return None, {}, []
    shown = sanitize(host)
    if result.status == REJECTED:
        return result, {}, [rejected_line(shown)]
    extra: dict[str, str] = {}
    if result.expiry is not None and not has_expiry:
        extra["password_expiry_utc"] = str(result.expiry)
    return result, extra, warnings(result, shown)
