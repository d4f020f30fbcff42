"""Builders shared by the bridge tests: a runtime on a fresh database with known tokens, a fake clock.

The fixtures built on them (clock, runtime, anonymous, client) are in tests/bridge/conftest.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tocsin.bridge import migrations
from tocsin.bridge.platform.config import BridgeConfig, Limits, Token, digest
from tocsin.bridge.policy import parse_policy
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.runtime import Runtime, build_runtime
from tocsin.bridge.store.schema import metadata

INGEST = "ingest-secret"
OPERATOR = "operator-secret"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when a test moves it: advance(90) or advance(minutes=5)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        self.now += timedelta(seconds=seconds, **delta)
        return self.now


def config_for(database_url: str, tmp_path: Path | None = None, **limits: object) -> BridgeConfig:
    """Return a config with one ingest and one operator token, reports in the caller."""
    return BridgeConfig(
        database_url=database_url,
        tokens=(
            Token("sender", "ingest", digest(INGEST)),
            Token("alice", "operator", digest(OPERATOR)),
        ),
        secret_key=b"test-secret",
        data_dir=tmp_path,
        # Reports in the test's own process unless a test asks for report processes: a spawned
        # one costs a second of imports.
        limits=Limits(**{"report_processes": 0, **limits}),  # type: ignore[arg-type]
    )


def make_runtime(
    database_url: str,
    clock: FakeClock | None = None,
    *,
    config: BridgeConfig | None = None,
    policy: Policy | str | None = None,
    migrate: bool = True,
    **limits: object,
) -> Runtime:
    """Build a runtime on a fresh database: migrated, or (faster) created from the schema.

    The config defaults to config_for(database_url, **limits), the policy to the bundled one;
    a policy may be given as YAML text.
    """
    runtime = build_runtime(
        config or config_for(database_url, **limits),
        policy=parse_policy(policy) if isinstance(policy, str) else policy,
        clock=clock or FakeClock(),
    )
    if migrate:
        migrations.upgrade(runtime.store)
    else:
        metadata.create_all(runtime.store.engine)
    return runtime


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
