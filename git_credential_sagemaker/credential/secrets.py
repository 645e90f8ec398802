"""Tokens read from AWS Secrets Manager, for URLs whose git config names a secret.

    credential.<url>.sagemakerSecret --name_for (git's urlmatch)--> NAME or ARN
    NAME --fetch: GetSecretValue, bounded--> SecretString --parse--> (username, password)

A team keeps one token in a secret and its owner rotates it there; this helper only reads
it. The token is answered to git, may sit in the agent's memory for at most an hour (and
is answered from there only while git config still names that secret), and is never
written to the keyring. When the server rejects it, git sends `erase`, which cannot fix a
secret it does not own: `rejected` says who must. Every failure is one line that names the
secret and the cause, never the token. Imported only on the slow path, and when the agent
answers from its cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Optional

from git_credential_sagemaker.credential import aws, gitconfig, protocol
from git_credential_sagemaker.credential.prompt import sanitize

KEY = "credential.sagemakerSecret"
# The longest the agent may keep a secret's value in memory: a rotation shows within it.
CACHE_SECONDS = 3600.0
FORMAT = 'SecretString must be JSON {"username": "...", "password": "..."}'


def configured(config: Mapping[str, str]) -> bool:
    """Whether any URL names a secret, from `git config --list` already read (no subprocess)."""
    return any(k.startswith("credential.") and k.endswith(".sagemakersecret") for k in config)


def url_of(request: protocol.Request) -> Optional[str]:
    """The URL git matches credential.<url>.* against, as git's credential_format builds it."""
    if not request.protocol or not request.host:
        return None
    from urllib.parse import quote

    user = f"{quote(request.username, safe='')}@" if request.username else ""
    path = f"/{quote(request.path, safe='/')}" if request.path else ""
    return f"{request.protocol}://{user}{request.host}{path}"


def name_for(request: protocol.Request, config: Mapping[str, str]) -> Optional[str]:
    """The secret configured for this request's URL, or None (an empty value turns it off)."""
    url = url_of(request)
    if url is None or not configured(config):
        return None
    return gitconfig.get_urlmatch(KEY, url) or None


def current_name(request: protocol.Request) -> Optional[str]:
    """The secret git config names for this URL now, by one `git config` call: what a token
    the agent cached must still come from to be answered."""
    url = url_of(request)
    return None if url is None else gitconfig.get_urlmatch(KEY, url) or None


def parse(name: str, text: str) -> tuple[str, str]:
    """(username, password) from a SecretString; an AwsError naming what is wrong, never a value."""
    shown = sanitize(name)
    try:
        data = json.loads(text)
    except ValueError:
        raise aws.AwsError(f"the secret {shown} is not JSON: {FORMAT}", "MalformedSecret") from None
    if not isinstance(data, dict):
        raise aws.AwsError(f"the secret {shown} is not a JSON object: {FORMAT}", "MalformedSecret")
    found = []
    for field in ("username", "password"):
        value = data.get(field)
        if not isinstance(value, str) or not value:
            raise aws.AwsError(f"the secret {shown} has no {field}: {FORMAT}", "MalformedSecret")
        if protocol.has_control(value):
            raise aws.AwsError(
                f"the secret {shown} has a control character in its {field}", "MalformedSecret"
            )
        found.append(value)
    return found[0], found[1]


def fetch(name: str) -> tuple[str, str]:
    """(username, password) from the secret `name` (a name or an ARN), one bounded call."""
    what = f"could not read Secrets Manager secret {sanitize(name)}"
    try:
        client = aws.client("secretsmanager", name)
    except aws.AwsError as exc:
        raise aws.AwsError(f"{what}: {exc}", exc.code) from None
    reply = aws.call(what, client.get_secret_value, SecretId=name)
    text = reply.get("SecretString") if isinstance(reply, dict) else None
    if not isinstance(text, str):
        raise aws.AwsError(f"{what}: it holds no SecretString: {FORMAT}", "MalformedSecret")
    return parse(name, text)


def rejected(name: str, host: Optional[str]) -> str:
    """The one line `erase` says: the secret stays as it is, and who must act."""
    where = f" by {sanitize(host)}" if host else ""
    return (
        f"the token in Secrets Manager secret {sanitize(name)} was rejected{where}; the "
        "secret was left unchanged: its owner must rotate it"
    )
