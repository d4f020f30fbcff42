"""Broken bridge configs and policies through the real command: exit 78, one line naming file:line.

Each file goes through `tocsin-bridge check-config` (and a few through `serve`) as a subprocess,
as an operator meets it: no traceback, the file at fault, the line, and the key to fix.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.config_faults import (
    BOMB,
    LONG,
    SECRET,
    UNREADABLE,
    Broken,
    assert_one_clear_line,
    not_a_readable_file,
    run_cli,
    write,
)

MISSING = "/nonexistent/tocsin"
POLICY_TAIL = """
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
routes:
  - {priority: P1, escalation: ops}
escalation_policies:
  ops: [{after: 0m, notify: [channel:chat]}]
"""


CONFIGS = [
    Broken("bad-yaml", "listen: 127.0.0.1:8080\ntokens: [\n", 3, None),
    Broken("top-level-list", "- listen\n", None, None),
    Broken("top-level-scalar", "hello\n", None, None),
    Broken("unknown-key", "listen: 127.0.0.1:8080\nlisten_port: 80\n", 2, "listen_port"),
    Broken("duplicate-key", "listen: 127.0.0.1:8080\nlisten: 127.0.0.1:8081\n", 2, None),
    Broken("wrong-type-listen", "listen: [127.0.0.1, 8080]\n", 1, "listen"),
    Broken("bad-port", "listen: 127.0.0.1:99999\n", 1, "listen"),
    Broken("wrong-type-tokens", "tokens: {name: x}\n", 1, "tokens"),
    Broken("wrong-type-limits", "limits: 5\n", 1, "limits"),
    Broken("wrong-type-smtp", "smtp: smtp.example.com\n", 1, "smtp"),
    Broken("bad-database-url", "database_url: mysql://x/y\n", 1, "database_url"),
    Broken("garbage-database-url", "database_url: '::nonsense'\n", 1, "database_url"),
    Broken("bad-log-level", "log_level: loud\n", 1, "log_level"),
    Broken("bad-duration", "limits:\n  busy_timeout: 10 parsecs\n", 2, "busy_timeout"),
    Broken("huge-duration", "limits:\n  busy_timeout: 99999999999w\n", 2, "busy_timeout"),
    Broken("bad-size", "limits:\n  max_body_bytes: lots\n", 2, "max_body_bytes"),
    Broken("unknown-limit", "limits:\n  max_bodies: 1\n", 2, "max_bodies"),
    Broken("unknown-notify-key", "notify:\n  ack_ttl: 1h\n", 2, "ack_ttl"),
    Broken("bad-notify-duration", "notify:\n  ack_link_ttl: soon\n", 2, "ack_link_ttl"),
    Broken("unknown-role", "tokens:\n  - {name: a, role: root, value: x}\n", 2, "role"),
    Broken("token-without-name", "tokens:\n  - {role: operator, value: x}\n", 2, "name"),
    Broken("token-unknown-key", "tokens:\n  - {name: a, role: operator, valu: x}\n", 2, "valu"),
    Broken("token-twice", "tokens:\n  - {name: a, role: operator, value: x}\n"
           "  - {name: a, role: ingest, value: y}\n", 3, "name"),
    Broken("token-file-missing", f"tokens:\n  - {{name: a, role: operator, value_file: {MISSING}}}\n",
           2, "value_file"),
    Broken("token-file-is-dir", "tokens:\n  - {name: a, role: operator, value_file: .}\n", 2,
           "value_file"),
    Broken("token-env-unset", "tokens:\n  - {name: a, role: operator, env: TOCSIN_UNSET_VAR}\n",
           2, "env"),
    Broken("token-bad-sha256", "tokens:\n  - {name: a, role: operator, sha256: abc}\n", 2,
           "sha256"),
    Broken("smtp-bad-port", "smtp:\n  host: mail\n  port: lots\n", 3, "port"),
    Broken("smtp-password-file-missing", f"smtp:\n  host: mail\n  password_file: {MISSING}\n", 3,
           "password_file"),
    Broken("secret-key-twice", "secret_key: a\nsecret_key_file: k\n", None, "secret_key"),
    Broken("policy-missing", f"policy: {MISSING}.yml\n", None, None),
    Broken("python-tag", "listen: !!python/object/apply:os.system ['true']\n", 1, None),
    Broken("binary-garbage", b"\x00\xff\xfe\x89PNG\r\n\x1a\n" + bytes(range(256)), None, None),
    Broken("latin-1", "public_url: http://caf\xe9\n".encode("latin-1"), None, None),
    Broken("alias-bomb-choice", f"log_level: {BOMB}\n", 1, "log_level"),
    Broken("alias-bomb-duration", f"limits:\n  busy_timeout: {BOMB}\n", 2, "busy_timeout"),
    Broken("alias-bomb-key", f"? {BOMB}\n: 1\n", 1, None),
    Broken("long-key", f"{'k' * 1000}: 1\n", 1, "kkkk"),
    Broken("long-token-file", f"tokens:\n  - {{name: a, role: operator, value_file: /{LONG}}}\n",
           2, "value_file"),
]  # fmt: skip
POLICIES = [
    Broken("bad-yaml", "priorities: {P1: {response: 15m\n", 2, None),
    Broken("empty", "", None, None),
    Broken("top-level-list", "- P1\n", None, None),
    Broken("unknown-key", "priorites: {}\n" + POLICY_TAIL, 1, "priorites"),
    Broken("bad-duration", "priorities:\n  P1: {response: 15 minutes}\n", 2, "response"),
    Broken("huge-duration", "priorities:\n  P1: {response: 99999999999w}\n", 2, "response"),
    Broken("warn-at-above-one", "priorities:\n  P1: {response: 15m, warn_at: 2}\n", 2, "warn_at"),
    Broken("unknown-calendar", "priorities:\n  P1: {response: 15m, calendar: nine-to-five}\n", 2,
           "calendar"),
    Broken("bad-timezone", "calendars:\n  c: {timezone: Mars/Olympus, hours: ['09:00-17:00']}\n",
           2, "timezone"),
    Broken("bad-hours", "calendars:\n  c: {timezone: UTC, hours: ['25:00-26:00']}\n", 2,
           "hours"),
    Broken("unknown-route-priority", "channels:\n  chat: {type: webhook, url: 'http://x'}\n"
           "priorities:\n  P1: {response: 15m}\nroutes:\n  - {priority: P9}\n", 6, "priority"),
    Broken("unknown-escalation", "channels:\n  chat: {type: webhook, url: 'http://x'}\n"
           "priorities:\n  P1: {response: 15m}\nroutes:\n  - {priority: P1, escalation: nobody}\n",
           6, "escalation"),
    Broken("unknown-target", "channels: {}\n" + POLICY_TAIL, 8, "notify"),
    Broken("unknown-channel-type", "channels:\n  chat: {type: pigeon, url: 'http://x'}\n"
           + POLICY_TAIL, 2, "type"),
    Broken("channel-without-url", "channels:\n  chat: {type: wecom}\n" + POLICY_TAIL, 2, "url"),
    Broken("channel-url-file-missing", f"channels:\n  chat: {{type: wecom, url_file: {MISSING}}}\n"
           + POLICY_TAIL, 2, "url_file"),
    Broken("channel-secret-file-is-dir", "channels:\n  chat: {type: dingtalk, url: 'http://x', "
           "secret_file: /}\n" + POLICY_TAIL, 2, "secret_file"),
    Broken("binary-garbage", b"\xff\xfe\x00\x01garbage", None, None),
    Broken("alias-bomb-day", f"calendars:\n  c:\n    days: [{BOMB}]\n", 3, "days"),
]  # fmt: skip


def bridge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    return run_cli("tocsin.bridge.cli", *args, cwd=cwd, env=env)


Run = Callable[[], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    """Every table's check-config run, started together: each one is a second of imports."""
    jobs: dict[str, tuple[Run, Path | str]] = {}
    for case in CONFIGS:
        home = tmp_path_factory.mktemp(f"config-{case.name}")
        config = write(home / "bridge.yml", case.content)
        at_fault = f"{MISSING}.yml" if case.name == "policy-missing" else config
        jobs[f"config-{case.name}"] = (_check(config, home), at_fault)
    for case in POLICIES:
        home = tmp_path_factory.mktemp(f"policy-{case.name}")
        policy = write(home / "policy.yml", case.content)
        config = write(home / "bridge.yml", "policy: policy.yml\n")
        jobs[f"policy-{case.name}"] = (_check(config, home), policy)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(run) for name, (run, _) in jobs.items()}
        yield {name: (futures[name].result(), jobs[name][1]) for name in jobs}


Result = tuple[subprocess.CompletedProcess[str], Path | str]


def _check(config: Path, home: Path) -> Run:
    return lambda: bridge("check-config", str(config), cwd=home)


@pytest.mark.parametrize("case", CONFIGS, ids=lambda case: case.name)
def test_check_config_names_the_fault(checked: dict[str, Result], case: Broken) -> None:
    result, at_fault = checked[f"config-{case.name}"]
    assert_one_clear_line(result, at_fault, case)


@pytest.mark.parametrize("case", POLICIES, ids=lambda case: case.name)
def test_a_broken_policy_is_named_with_its_line_and_key(
    checked: dict[str, Result], case: Broken
) -> None:
    result, at_fault = checked[f"policy-{case.name}"]
    assert_one_clear_line(result, at_fault, case)


@pytest.mark.parametrize(
    "case",
    [c for c in CONFIGS if c.name in ("bad-yaml", "unknown-key", "token-file-missing", "latin-1")],
    ids=lambda case: case.name,
)
def test_serve_refuses_a_broken_config_before_starting(tmp_path: Path, case: Broken) -> None:
    config = write(tmp_path / "bridge.yml", case.content)
    result = bridge("serve", "--config", str(config), cwd=tmp_path)
    assert_one_clear_line(result, config, case)


def test_serve_refuses_a_broken_policy_before_starting(tmp_path: Path) -> None:
    policy = write(tmp_path / "policy.yml", "priorities:\n  P1: {response: soon}\n")
    config = write(tmp_path / "bridge.yml", "policy: policy.yml\nlisten: 127.0.0.1:0\n")
    result = bridge("serve", "--config", str(config), cwd=tmp_path)
    assert_one_clear_line(result, policy, Broken("serve-policy", "", 2, "response"))


@pytest.mark.parametrize("command", [["check-config"], ["serve", "--config"]])
@pytest.mark.parametrize("kind", UNREADABLE)
def test_a_config_path_that_is_not_a_readable_file_is_named(
    tmp_path: Path, command: list[str], kind: str
) -> None:
    path = not_a_readable_file(tmp_path, kind, "bridge.yml", "listen: 127.0.0.1:8080\n")
    result = bridge(*command, str(path), cwd=tmp_path)
    assert_one_clear_line(result, path, Broken(kind, "", None, None))


@pytest.mark.parametrize(
    "content",
    [
        f"tokens:\n  - {{name: a, role: operator, value: [{SECRET}]}}\n",
        f"database_url: mysql://u:{SECRET}@db/x\n",
    ],
)
def test_a_secret_is_never_echoed_in_a_config_error(tmp_path: Path, content: str) -> None:
    config = write(tmp_path / "bridge.yml", content)
    result = bridge("check-config", str(config), cwd=tmp_path)
    assert_one_clear_line(result, config, Broken("secret", content, None, None))
    assert SECRET not in result.stderr and SECRET not in result.stdout


def test_a_secret_in_a_chat_channel_url_is_never_echoed(tmp_path: Path) -> None:
    policy = write(
        tmp_path / "policy.yml",
        f"channels:\n  chat: {{type: wecom, url: 'https://x/?key={SECRET}', events: 5}}\n"
        + POLICY_TAIL,
    )
    config = write(tmp_path / "bridge.yml", "policy: policy.yml\n")
    result = bridge("check-config", str(config), cwd=tmp_path)
    assert_one_clear_line(result, policy, Broken("secret", "", 2, "events"))
    assert SECRET not in result.stderr
