"""URLs: as messages and logs may show them (no credentials, no query), and alerts' sources."""

from __future__ import annotations

from urllib.parse import urlencode

HIDDEN = "***"


def redact_url(url: str) -> str:
    """Return `url` fit for a message: its credentials and query (where tokens hide) hidden.

    Plain text work, no parser: a URL too malformed to parse is exactly the one an error
    message shows, and it must not leak either.
    """
    base, _, query = url.partition("#")[0].partition("?")
    scheme, sep, rest = base.partition("://")
    if not sep:
        scheme, rest = "", base
    if "@" in rest:
        rest = f"{HIDDEN}@{rest.rpartition('@')[2]}"
    return f"{scheme}{sep}{rest}" + (f"?{HIDDEN}" if query else "")


def generator_url(base: str, metric: str) -> str:
    """Link an alert to the agent's /metrics filtered to its rule's metric, as `name[]` does."""
    return f"{base.rstrip('/')}/metrics?{urlencode({'name[]': metric})}"
