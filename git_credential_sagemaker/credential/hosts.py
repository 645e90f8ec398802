"""Per-host knowledge, as data: where a user creates a token with the least scope."""

from __future__ import annotations

from urllib.parse import quote

# host -> (name, URL to create a token with the least scope)
TOKEN_PAGES = {
    "github.com": (
        "GitHub",
        "https://github.com/settings/tokens/new?scopes=repo&description=SageMaker",
    ),
    "gitlab.com": (
        "GitLab",
        "https://gitlab.com/-/user_settings/personal_access_tokens"
        "?name=SageMaker&scopes=write_repository",
    ),
}


def token_hint(host: str) -> str | None:
    """One line telling where to create a token for `host`, or None for unknown hosts."""
    bare = host.split(":")[0]
    if bare in TOKEN_PAGES:
        name, url = TOKEN_PAGES[bare]
    elif bare.startswith("github.") or ".github." in bare:  # GitHub Enterprise Server
        page = "settings/tokens/new?scopes=repo&description=SageMaker"
        name, url = "GitHub Enterprise", f"https://{quote(host, safe=':[]')}/{page}"
    else:
        return None
    extra = " (fine-grained tokens work too)" if name.startswith("GitHub") else ""
    return f"create a {name} token at {url}{extra}"
