"""Builders shared by the bridge tests: a migrated runtime with known tokens and a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tocsin.bridge import migrations
from tocsin.bridge.platform.config import BridgeConfig, Limits, Token, digest
from tocsin.bridge.server.runtime import Runtime, build_runtime

INGEST = "ingest-secret"
OPERATOR = "operator-secret"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def config_for(database_url: str, tmp_path: Path | None = None, **limits: object) -> BridgeConfig:
    """Return a config with one ingest and one operator token."""
    return BridgeConfig(
        database_url=database_url,
        tokens=(
            Token("sender", "ingest", digest(INGEST)),
            Token("alice", "operator", digest(OPERATOR)),
        ),
        secret_key=b"test-secret",
        data_dir=tmp_path,
        limits=Limits(**limits),  # type: ignore[arg-type]
    )


def make_runtime(database_url: str, clock: FakeClock | None = None, **limits: object) -> Runtime:
    """Build a runtime on a freshly migrated database."""
    runtime = build_runtime(config_for(database_url, **limits), clock=clock or FakeClock())
    migrations.upgrade(runtime.store)
    return runtime


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
