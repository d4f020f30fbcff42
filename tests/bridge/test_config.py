from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.config_faults import BOMB, LONG, SECRET, assert_quoted_short
from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.config import BridgeConfig, digest, load_config, parse_config
from tocsin.bridge.policy.load import parse_policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.yml"
    path.write_text(text)
    return path


def test_no_file_gives_the_documented_defaults() -> None:
    config = load_config(None)
    assert (config.listen, config.database_url, config.policy) == (
        "127.0.0.1:8080",
        "sqlite:///tocsin.db",
        None,
    )
    assert config.limits.max_body_bytes == 1024 * 1024
    assert config.clock_skew_tolerance == timedelta(minutes=10)


def test_overload_limits_and_retention_are_read_as_durations_and_counts(tmp_path: Path) -> None:
    text = "limits: {queue_timeout: 250ms, max_queued_alerts: 900}\nretention: 30d\n"
    config = load_config(write(tmp_path, text))
    assert (config.limits.queue_timeout, config.limits.max_queued_alerts) == (0.25, 900)
    assert config.limits.idle_in_transaction_timeout == 10.0
    assert config.retention == timedelta(days=30)
    two = load_config(write(tmp_path, "workers: 2\n"))
    assert (load_config(None).workers, two.workers) == (1, 2)


def test_the_clock_skew_tolerance_is_read_as_a_duration(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "ingest: {clock_skew_tolerance: 90s}\n"), env={})
    assert config.clock_skew_tolerance == timedelta(seconds=90)


def test_token_sources_all_end_as_digests(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("from-file\n")
    text = f"""
tokens:
  - {{name: a, role: ingest, value: plain}}
  - {{name: b, role: operator, value_file: t}}
  - {{name: c, role: operator, sha256: "{digest("hashed")}"}}
  - {{name: d, role: ingest, env: BRIDGE_TOKEN}}
"""
    config = load_config(write(tmp_path, text), env={"BRIDGE_TOKEN": "from-env"})
    assert [t.sha256 for t in config.tokens] == [
        digest(v) for v in ("plain", "from-file", "hashed", "from-env")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("listen: localhost\n", "bridge.yml:1: listen: 'localhost' is not HOST:PORT"),
        ("lisen: 1\n", "bridge.yml:1: lisen: unknown key 'lisen'"),
        (
            "tokens:\n  - {name: a, role: root, value: x}\n",
            "tokens[0].role: 'root' is not one of ingest, operator, viewer, responder,",
        ),
        ("tokens:\n  - {name: a, role: ingest}\n", "give exactly one of value"),
        ("limits: {max_body_bytes: lots}\n", "limits.max_body_bytes: 'lots' is not a size"),
        ("limits:\n  max_ingest_requests: 0\n", "bridge.yml:2: limits.max_ingest_requests: 0"),
        ("limits:\n  queue_timeout: 0s\n", "bridge.yml:2: limits.queue_timeout: '0s' must be"),
        ("retention: 10m\n", "bridge.yml:1: retention: '10m' is too short"),
        ("workers: 0\n", "bridge.yml:1: workers: 0 must be a whole number from 1 to 64"),
        ("workers: two\n", "bridge.yml:1: workers: 'two' must be a whole number"),
        ("database_url: mysql://x\n", "database_url: expected sqlite"),
        (
            "ingest:\n  clock_skew_tolerance: 2d\n",
            "bridge.yml:2: ingest.clock_skew_tolerance: '2d' must be between 0s and 1d",
        ),
        ("ingest: {clock_skew: 1m}\n", "ingest.clock_skew: unknown key 'clock_skew'"),
        (
            "tokens:\n  - {name: a, role: ingest, value_file: /nonexistent}\n",
            "cannot read /nonexistent",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert message in caught.value.message
    assert caught.value.exit_code == 78


def test_relative_sqlite_path_is_taken_from_the_config_directory(tmp_path: Path) -> None:
    config = parse_config({"database_url": "sqlite:///data/t.db"}, "x", base=tmp_path)
    assert config.database_url == f"sqlite:///{tmp_path / 'data/t.db'}"


def test_secrets_never_appear_in_repr() -> None:
    config = parse_config(
        {"tokens": [{"name": "a", "role": "ingest", "value": "s3cret"}], "secret_key": "k3y"}, "x"
    )
    assert "s3cret" not in repr(config) and "k3y" not in repr(config)
    assert isinstance(config, BridgeConfig)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (f"log_level: {BOMB}\n", "bridge.yml:1: log_level: [["),
        (f"sqlite_synchronous: {LONG}\n", "bridge.yml:1: sqlite_synchronous: 'xxx"),
        (f"listen: {LONG}\n", "bridge.yml:1: listen: 'xxx"),
        (f"smtp:\n  host: mail\n  starttls: {BOMB}\n", "bridge.yml:3: smtp.starttls: [["),
        (f"smtp:\n  host: mail\n  port: {BOMB}\n", "bridge.yml:3: smtp.port: [["),
        (f"limits:\n  max_body_bytes: {BOMB}\n", "bridge.yml:2: limits.max_body_bytes: [["),
        (f"limits:\n  max_alerts_per_request: {LONG}\n", "limits.max_alerts_per_request: 'xx"),
        (f"limits:\n  busy_timeout: {LONG}\n", "bridge.yml:2: limits.busy_timeout: 'xxx"),
        (f"limits:\n  retry_after: {BOMB}\n", "bridge.yml:2: limits.retry_after: [["),
        (f"notify:\n  max_attempts: {BOMB}\n", "bridge.yml:2: notify.max_attempts: [["),
        (f"notify:\n  retry_base: {LONG}\n", "bridge.yml:2: notify.retry_base: 'xxx"),
        (f"tokens:\n  - {{name: a, role: {LONG}, value: x}}\n", "tokens[0].role: 'xxx"),
        (f"tokens:\n  - {{name: {LONG}, role: ingest}}\n", "give exactly one of"),
        (f"{'k' * 1000}: 1\n", "bridge.yml:1: kkk"),
    ],
)
def test_a_huge_value_is_quoted_short(tmp_path: Path, text: str, place: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert_quoted_short(caught.value.message, place, len(str(tmp_path)) + 400)


@pytest.mark.parametrize(
    "text",
    [
        f"tokens:\n  - {{name: a, role: operator, value: [{SECRET}]}}\n",
        f"tokens:\n  - {{name: a, role: operator, value: {{v: {SECRET}}}, env: X}}\n",
        f"secret_key: {{key: {SECRET}}}\n",
        f"database_url: mysql://u:{SECRET}@db/x\n",
        f"smtp:\n  password: {SECRET}\n  port: none\n",
    ],
)
def test_a_secret_is_never_quoted_in_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert SECRET not in caught.value.message


POLICY_TAIL = """
priorities:
  P1: {response: 15m}
routes:
  - {priority: P1}
"""


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (f"priorities:\n  P1:\n    response: {BOMB}\n", "p.yml:3: priorities.P1.response: [["),
        (f"calendars:\n  c:\n    days: [{BOMB}]\n", "p.yml:3: calendars.c.days[0]: [["),
        (f"calendars:\n  c: {{timezone: {LONG}}}\n", "p.yml:2: calendars.c.timezone: "),
        (f"calendars:\n  c: {{hours: [{LONG}]}}\n", "p.yml:2: calendars.c.hours[0]: 'xx"),
        (f"channels:\n  c: {{type: {LONG}}}\n" + POLICY_TAIL, "p.yml:2: channels.c.type: 'x"),
        (f"priorities:\n  P1: {{response: 15m, warn_at: {BOMB}}}\n", "P1.warn_at: [["),
        (f"priorities:\n  P1: {{response: 15m}}\nroutes:\n  - {{priority: {LONG}}}\n",
         "p.yml:4: routes[0].priority: unknown priority 'xxx"),
        (f"heartbeat: {{missed: {BOMB}}}\n" + POLICY_TAIL, "p.yml:1: heartbeat.missed: [["),
    ],
)  # fmt: skip
def test_a_huge_policy_value_is_quoted_short(text: str, place: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "p.yml")
    message = caught.value.message
    assert place in message and ("…" in message or "..." in message)
    assert len(message) < 250, message[:1000]
