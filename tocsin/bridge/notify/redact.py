"""Keep secrets out of errors and logs: webhook URLs carry tokens in their path or query."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"


def safe_url(url: str) -> str:
    """Return only the scheme, host and port of a URL: Slack and Feishu keep the token in the path."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return MASK
    if not parts.scheme or not netloc:
        return MASK
    return (
        f"{parts.scheme}://{netloc}/{MASK}"
        if (parts.path.strip("/") or parts.query)
        else f"{parts.scheme}://{netloc}"
    )


def secret_parts(url: str) -> list[str]:
    """Return the pieces of a URL that may hold a credential: the whole, path, query, user info."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    pieces = [url, parts.query, parts.path, parts.password or "", parts.username or ""]
    pieces += [value for _, _, value in (kv.partition("=") for kv in parts.query.split("&"))]
    pieces += [segment for segment in parts.path.split("/") if len(segment) >= 8]
    return [piece for piece in pieces if piece and piece != "/"]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (longest first, so a URL goes before its parts) in a text with ***."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
