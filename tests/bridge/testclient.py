"""Starlette's TestClient, imported without its httpx deprecation warning (pytest makes warnings errors)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient

__all__ = ["TestClient"]
