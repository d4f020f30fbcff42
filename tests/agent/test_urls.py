"""URLs in messages: credentials and query strings hidden, whatever shape the URL has."""

from __future__ import annotations

import pytest

from tocsin.agent.urls import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bridge:8080", "http://bridge:8080"),
        ("https://user:pass@bridge:8080/base", "https://***@bridge:8080/base"),
        ("https://bridge/?token=pass", "https://bridge/?***"),
        ("https://user:pass@bridge/x?token=pass#frag", "https://***@bridge/x?***"),
        ("https://user:p@ss@bridge", "https://***@bridge"),
        ("user:pass@bridge:8080", "***@bridge:8080"),
        ("ftp://user:pass@[::1", "ftp://***@[::1"),
    ],
)
def test_credentials_and_query_are_hidden(url: str, shown: str) -> None:
    assert redact_url(url) == shown
