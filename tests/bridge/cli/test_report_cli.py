"""`tocsin-bridge report sla` and `kb search` against a real bridge API on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from click.testing import CliRunner

from tests.bridge.helpers import INGEST, OPERATOR
from tocsin.bridge.cli import main
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app


@pytest.fixture
def url(runtime: Runtime) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, start_workers=False), host="127.0.0.1", port=0, log_level="error"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def seed(runtime: Runtime) -> None:
    service = runtime.incidents
    first = service.create(
        title="磁盘已满 disk full", priority="P1", actor="alice", source="manual", team="ops"
    )
    service.create(title="slow page", priority="P3", actor="alice", source="manual")
    runtime.clock.advance(600)  # type: ignore[attr-defined]
    service.act(first, "ack", actor="alice")
    service.act(
        first,
        "resolve",
        actor="alice",
        root_cause="日志未轮转",
        solution="清理日志并开启 logrotate",
    )


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_report_sla_prints_each_format(runtime: Runtime, url: str, fmt: str) -> None:
    seed(runtime)
    code, out = run(
        "report", "sla", "--since", "1d", "--format", fmt, "--url", url, "--token", OPERATOR
    )
    assert code == 0, out
    if fmt == "json":
        assert json.loads(out)["by_priority"]["P1"]["time_to_acknowledge_seconds"]["median"] == 600
    elif fmt == "csv":
        rows = {(r["kind"], r["key"]): r for r in csv.DictReader(io.StringIO(out))}
        assert rows[("priority", "P1")]["ack_median_seconds"] == "600.0"
    else:
        assert next(line for line in out.splitlines() if line.startswith("P1 ")).split()[1:3] == [
            "1",
            "10m",
        ]


def test_report_filters_by_team_and_priority(runtime: Runtime, url: str) -> None:
    seed(runtime)
    code, out = run(
        "report",
        "sla",
        "--team",
        "ops",
        "--priority",
        "P1",
        "--format",
        "json",
        "--url",
        url,
        "--token",
        OPERATOR,
    )
    assert (code, json.loads(out)["total"]["opened"]) == (0, 1)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--since", "yesterday", "--token", OPERATOR], 2, "neither RFC 3339"),
        (["--token", INGEST], 77, "403"),
    ],
)
def test_report_refusals_print_one_line_and_exit_code(
    url: str, args: list[str], code: int, message: str
) -> None:
    exit_code, out = run("report", "sla", "--url", url, *args)
    assert (exit_code, message in out) == (code, True)


def test_unreachable_bridge_exits_69() -> None:
    code, out = run(
        "report", "sla", "--url", "http://127.0.0.1:9", "--token", OPERATOR, "--timeout", "2"
    )
    assert (code, "cannot reach" in out) == (69, True)


def test_kb_search_finds_chinese_solution(runtime: Runtime, url: str) -> None:
    seed(runtime)
    code, out = run("kb", "search", "磁盘", "满", "--url", url, "--token", OPERATOR)
    assert code == 0, out
    assert "清理日志并开启 logrotate" in out


def test_kb_search_says_when_nothing_matches(runtime: Runtime, url: str) -> None:
    code, out = run("kb", "search", "kubernetes", "--url", url, "--token", OPERATOR)
    assert (code, out.strip()) == (0, "no past incident matches")
