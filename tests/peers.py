"""Find the real programs the tests drive; skip on a laptop without them, fail under CI."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_peer(reason: str) -> None:
    """Skip the test because a peer is absent, unless under CI where that is a failure."""
    if IN_CI:
        pytest.fail(f"required test peer missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, *candidates: str) -> str:
    """Return the path of a peer program, looking in PATH then in the given paths."""
    found = shutil.which(name)
    if found:
        return found
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    missing_peer(f"{name} not installed (Debian package needed; `make peers` installs it)")
    raise AssertionError("unreachable")
