"""`tocsin-bridge incidents …` and `oncall` against a real bridge process: the whole workflow."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import update

from tests.bridge.helpers import OPERATOR, bearer
from tests.bridge.server import BridgeProcess
from tocsin.bridge.cli import main
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import sla_clocks


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    tmp = tmp_path_factory.mktemp("cli-bridge")
    process = BridgeProcess(tmp, f"sqlite:///{tmp / 'tocsin.db'}")
    process.start()
    yield process
    process.stop()


def cli(bridge: BridgeProcess, *args: str, code: int = 0) -> str:
    env = {"TOCSIN_URL": bridge.url, "TOCSIN_TOKEN": OPERATOR}
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def opened(bridge: BridgeProcess, priority: str = "P2") -> str:
    body = {"title": "Printer jams", "priority": priority, "reporter": "Wang"}
    answer = requests.post(
        f"{bridge.url}/api/v1/incidents", json=body, headers=bearer(OPERATOR), timeout=5
    )
    return str(answer.json()["id"])


def test_the_workflow_from_a_terminal(bridge: BridgeProcess) -> None:
    number = opened(bridge)
    cli(bridge, "incidents", "ack", number)
    cli(bridge, "incidents", "pause", number, "--reason", "waiting on the reporter")
    cli(bridge, "incidents", "resume", number, "--reason", "reporter called back")
    cli(bridge, "incidents", "escalate", number, "--reason", "need the experts")
    assert "assignee: backup" in cli(bridge, "incidents", "reassign", number, "backup")
    cli(bridge, "incidents", "note", number, "toner replaced, testing")
    cli(bridge, "incidents", "resolve", number, "--root-cause", "bad toner", "--solution", "new")
    assert "status: acknowledged" in cli(bridge, "incidents", "reopen", number, "--reason", "again")
    cli(bridge, "incidents", "resolve", number, "--root-cause", "worn roller", "--solution", "swap")
    cli(
        bridge,
        "incidents",
        "resolution",
        number,
        "--root-cause",
        "worn pickup roller",
        "--solution",
        "swap",
    )
    out = cli(bridge, "incidents", "close", number, "--satisfaction", "4", "--comment", "fast")
    assert "satisfaction: 4/5 (by staff)" in out


def test_a_report_with_the_reporters_mail_and_a_public_note(bridge: BridgeProcess) -> None:
    out = cli(bridge, "incidents", "report", "--title", "VPN drops", "--priority", "P3",
              "--reporter", "Wang", "--email", "wang@example.com", "--language", "zh-CN",
              "--json")  # fmt: skip
    number = str(json.loads(out)["id"])
    cli(bridge, "incidents", "note", number, "checking the firewall")
    cli(bridge, "incidents", "note", number, "--public", "we found the cause")
    shown = cli(bridge, "incidents", "show", number)
    assert "reporter: Wang, wang@example.com (zh-CN)" in shown
    assert re.search(r"incident.note_added \(public\) .*: we found the cause", shown), shown
    assert re.search(r"incident.note_added +\S+: checking the firewall", shown), shown


def test_a_title_set_by_hand_is_shown_with_who_set_it(bridge: BridgeProcess) -> None:
    number = opened(bridge)
    out = cli(bridge, "incidents", "title", number, "printer on floor 3 jams", "--json")
    shown = json.loads(out)
    assert (shown["title"], shown["title_edited_by"]) == ("printer on floor 3 jams", "alice")
    assert "incident.retitled" in cli(bridge, "incidents", "show", number)


def test_show_has_notes_root_cause_and_clocks(bridge: BridgeProcess) -> None:
    number = opened(bridge)
    cli(bridge, "incidents", "ack", number)
    cli(bridge, "incidents", "note", number, "toner replaced, testing")
    cli(bridge, "incidents", "resolve", number, "--root-cause", "bad toner", "--solution", "new")
    out = cli(bridge, "incidents", "show", number)
    assert "toner replaced, testing" in out
    assert "root cause: bad toner" in out and "solution: new" in out
    assert "sla response: met" in out


def test_an_overdue_clock_says_overdue(bridge: BridgeProcess) -> None:
    number = opened(bridge, "P1")
    store = Store(f"sqlite:///{bridge.config_path.parent / 'tocsin.db'}")
    try:
        with store.begin() as conn:
            conn.execute(
                update(sla_clocks)
                .where(sla_clocks.c.incident_id == int(number), sla_clocks.c.clock == "response")
                .values(due_at=utcnow() - timedelta(seconds=46))
            )
    finally:
        store.dispose()
    out = cli(bridge, "incidents", "show", number)
    assert re.search(r"sla response: overdue 4\ds", out), out
    assert "-4" not in out.split("sla response:")[1].splitlines()[0]
    assert re.search(
        rf"^{number}\s+P1\s+triggered\s+overdue 4\ds", cli(bridge, "incidents", "list"), re.M
    )


def test_pause_before_ack_is_one_line_saying_why(bridge: BridgeProcess) -> None:
    out = cli(bridge, "incidents", "pause", opened(bridge), "--reason", "x", code=1)
    assert out.strip().startswith("tocsin-bridge: 409: acknowledge the incident before pausing")


def test_oncall_asks_the_running_bridge_and_says_names(bridge: BridgeProcess) -> None:
    out = cli(bridge, "oncall")
    assert "schedule ops-primary [Asia/Shanghai]: Primary on-call (primary; layer 0)" in out
    assert "team ops: Primary on-call" in out


def test_oncall_at_a_time_through_the_bridge(bridge: BridgeProcess) -> None:
    assert "on call at 2026-03-02T01:00:00Z" in cli(
        bridge, "oncall", "--at", "2026-03-02T01:00:00Z"
    )


def test_oncall_refuses_a_bad_time(bridge: BridgeProcess) -> None:
    assert "--at 'tomorrow'" in cli(bridge, "oncall", "--at", "tomorrow", code=2)


def test_oncall_refuses_a_time_out_of_range(bridge: BridgeProcess) -> None:
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        answer = requests.get(
            f"{bridge.url}/api/v1/oncall", params={"at": text}, headers=bearer(OPERATOR), timeout=5
        )
        assert answer.status_code == 422 and answer.json()["field"] == "at", answer.text
