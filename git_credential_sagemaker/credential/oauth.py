"""A GitHub App's device flow (RFC 8628) and the refresh of its expiring user tokens.

    credential.<url>.sagemakerOAuthClientId CLIENT_ID    (setup --github-app) turns it on
    base: https://HOST, or credential.<url>.sagemakerOAuthUrl (https, or http to loopback)

    start()   POST base/login/device/code          --> DeviceCode: the URL and the user code
    wait()    POST base/login/oauth/access_token   --> Tokens, polling at `interval`, slower
              after slow_down, until approved, denied or expired
    refresh() the same endpoint with the refresh token --> Tokens (the refresh token rotates)

No client secret: a GitHub App's device-flow tokens refresh without one. Each request is bounded
(web.request), and an answer is read as JSON or as a form, as GitHub sends either. The client
id and base go into the entry's sealed secrets with the tokens, so whoever holds the key (the
agent included) can refresh without reading git config.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Callable, NamedTuple, Optional
from urllib.parse import parse_qsl, urlencode

from git_credential_sagemaker.credential import web
from git_credential_sagemaker.errors import UserError

TIMEOUT = 3.0
# An access token that expires within this many seconds is refreshed before it is answered.
REFRESH_AHEAD = 300
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Kept with the tokens in an entry's sealed secrets; never printed to git.
CLIENT_KEY = "sagemaker_oauth_client_id"
BASE_KEY = "sagemaker_oauth_url"
CLIENT_NAME = "sagemakerOAuthClientId"  # credential.<url>.<name>, by git's urlmatch rules
CLIENT_SETTING = f"credential.{CLIENT_NAME}"
URL_SETTING = "credential.sagemakerOAuthUrl"
# What git's prompt-free answer carries as the username: GitHub takes any with a token.
USERNAME = "x-access-token"


class OAuthError(UserError):
    """One line. `refused`: the server said no for good (a dead refresh token, a denial), as
    opposed to no answer, which may pass."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class DeviceCode(NamedTuple):
    device_code: str
    user_code: str
    verification_uri: str
    expires_at: float  # epoch seconds
    interval: int


class Tokens(NamedTuple):
    access_token: str
    expires_at: Optional[int]  # epoch seconds; None when the token does not expire
    refresh_token: Optional[str]

    def secrets(self, client_id: str, base: str) -> dict[str, str]:
        """What an entry keeps: the token, its expiry, the refresh token, and how to refresh."""
        found = {"password": self.access_token, CLIENT_KEY: client_id, BASE_KEY: base}
        if self.expires_at is not None:
            found["password_expiry_utc"] = str(self.expires_at)
        if self.refresh_token:
            found["oauth_refresh_token"] = self.refresh_token
        return found


def default_base(host: str) -> str:
    """GitHub's sign-in host for a git host: github.com, *.ghe.com and Enterprise Server."""
    return f"https://{host}"


def configured(
    protocol: str, host: str, get: Callable[[str, str], Optional[str]]
) -> Optional[tuple[str, str]]:
    """(client id, base) when git config turns the flow on for this URL; `get(key, url)` reads
    a setting by git's urlmatch rules. An unsafe base is a one-line error."""
    url = f"{protocol}://{host}/"
    client_id = get(CLIENT_SETTING, url)
    if not client_id:
        return None
    given = get(URL_SETTING, url)
    base = web.safe_base(given or default_base(host))
    if base is None:
        raise OAuthError(f"{URL_SETTING} for {host} must be https (or http to a loopback address)")
    return client_id, base


def _post(url: str, fields: Mapping[str, str], timeout: float) -> dict[str, str]:
    """One form POST; its answer as a dict, from JSON or from a form."""
    import http.client

    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "git-credential-sagemaker",
    }
    try:
        answer = web.request(
            "POST", url, headers, urlencode(fields).encode(), time.monotonic() + timeout
        )
    except (OSError, http.client.HTTPException, ValueError):
        raise OAuthError(f"no answer from {url} in time") from None
    if answer.status >= 500:
        raise OAuthError(f"{url} answered HTTP {answer.status}")
    text = answer.body.decode("utf-8", "replace")
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else dict(parse_qsl(text))
    except ValueError:
        data = {}
    if not isinstance(data, dict) or not data:
        raise OAuthError(f"{url} answered HTTP {answer.status} with nothing this client reads")
    return {str(k): str(v) for k, v in data.items() if v is not None}


def _number(data: Mapping[str, str], key: str, default: int) -> int:
    value = data.get(key, "")
    return int(value) if value.isdigit() else default


def start(base: str, client_id: str, timeout: float = TIMEOUT) -> DeviceCode:
    """Ask for a device code and the user code to type in the browser."""
    data = _post(f"{base}/login/device/code", {"client_id": client_id}, timeout)
    if "error" in data:
        raise OAuthError(
            f"GitHub refused to start signing in ({data['error']}): check the App's client id, "
            "and that it has Device Flow enabled",
            refused=True,
        )
    try:
        return DeviceCode(
            data["device_code"],
            data["user_code"],
            data["verification_uri"],
            time.time() + _number(data, "expires_in", 900),
            max(_number(data, "interval", 5), 1),
        )
    except KeyError:
        raise OAuthError(f"{base} answered without a device code") from None


def _tokens(data: Mapping[str, str], now: float) -> Tokens:
    expires_in = data.get("expires_in", "")
    return Tokens(
        data["access_token"],
        int(now) + int(expires_in) if expires_in.isdigit() else None,
        data.get("refresh_token") or None,
    )


def poll(base: str, client_id: str, code: DeviceCode, timeout: float = TIMEOUT) -> Tokens | str:
    """One poll: the tokens once approved, else GitHub's error code (authorization_pending...)."""
    fields = {"client_id": client_id, "device_code": code.device_code, "grant_type": DEVICE_GRANT}
    data = _post(f"{base}/login/oauth/access_token", fields, timeout)
    if "access_token" in data:
        return _tokens(data, time.time())
    return data.get("error", "unknown")


def wait(
    base: str,
    client_id: str,
    code: DeviceCode,
    sleep: Callable[[float], object] = time.sleep,
    stopped: Callable[[], bool] = lambda: False,
) -> Tokens:
    """Poll until the user approves: at `interval`, 5 s slower after each slow_down, and no
    longer than the code lives. A poll with no answer is tried again at the next turn."""
    interval = code.interval
    while True:
        if time.time() + interval >= code.expires_at:
            raise OAuthError("the code expired before it was approved; nothing was stored")
        sleep(interval)
        if stopped():
            raise OAuthError("signing in was stopped; nothing was stored")
        try:
            result = poll(base, client_id, code)
        except OAuthError:
            continue  # no answer this time: the code is still good
        if isinstance(result, Tokens):
            return result
        if result == "slow_down":
            interval += 5
        elif result == "expired_token":
            raise OAuthError(
                "the code expired before it was approved; nothing was stored", refused=True
            )
        elif result == "access_denied":
            raise OAuthError("signing in was denied in the browser; nothing was stored", True)
        elif result != "authorization_pending":
            raise OAuthError(f"GitHub stopped the sign-in ({result}); nothing was stored", True)


def refresh(base: str, client_id: str, refresh_token: str, timeout: float = TIMEOUT) -> Tokens:
    """New tokens for a refresh token, which GitHub then retires."""
    fields = {
        "client_id": client_id,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    data = _post(f"{base}/login/oauth/access_token", fields, timeout)
    if "access_token" not in data:
        raise OAuthError(f"the refresh was refused ({data.get('error', 'unknown')})", True)
    return _tokens(data, time.time())
