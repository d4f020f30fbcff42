from __future__ import annotations

from datetime import timedelta

from tests.bridge.testclient import TestClient
from tocsin.bridge.incidents.serialize import incident_json
from tocsin.bridge.notify.links import sign_ack
from tocsin.bridge.runtime import Runtime


def open_incident(runtime: Runtime, title: str = "磁盘满 <b>db-1</b>") -> int:
    return runtime.incidents.create(title=title, priority="P1", actor=None)


def link(runtime: Runtime, incident_id: int, person: str = "carol", **kw: object) -> str:
    token = sign_ack(
        b"test-secret", incident_id=incident_id, person=person, now=runtime.clock(), **kw
    )  # type: ignore[arg-type]
    return f"/ack/{token}"


def state(runtime: Runtime, incident_id: int) -> tuple[str, str | None, int]:
    with runtime.store.connect() as conn:
        found = incident_json(conn, incident_id, runtime.clock())
    return found["status"], found["acknowledged_by"], len(found["timeline"])


def test_opening_the_link_asks_to_confirm_and_changes_nothing(
    runtime: Runtime, anonymous: TestClient
) -> None:
    incident_id = open_incident(runtime)
    before = state(runtime, incident_id)
    page = anonymous.get(link(runtime, incident_id))
    assert page.status_code == 200
    assert "Acknowledge as carol" in page.text and '<form method="post">' in page.text
    assert "磁盘满 &lt;b&gt;db-1&lt;/b&gt;" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert state(runtime, incident_id) == before


def test_confirming_acknowledges_in_the_persons_name(
    runtime: Runtime, anonymous: TestClient
) -> None:
    incident_id = open_incident(runtime)
    answer = anonymous.post(link(runtime, incident_id))
    assert answer.status_code == 200 and "Acknowledged by carol" in answer.text
    assert state(runtime, incident_id)[:2] == ("acknowledged", "carol")


def test_a_replayed_link_changes_nothing_and_says_who_acknowledged(
    runtime: Runtime, anonymous: TestClient
) -> None:
    incident_id = open_incident(runtime)
    url = link(runtime, incident_id)
    anonymous.post(url)
    runtime.incidents.act(incident_id, "resolve", actor="dave", root_cause="x", solution="y")
    before = state(runtime, incident_id)
    for again in (anonymous.post(url), anonymous.get(url)):
        assert again.status_code == 200
        assert "carol acknowledged it at 2026-03-02 09:00 UTC." in again.text
        assert f'href="http://127.0.0.1:8080/incidents/{incident_id}"' in again.text
        assert "<form" not in again.text
    assert state(runtime, incident_id) == before


def test_a_tampered_link_changes_nothing_and_says_so(
    runtime: Runtime, anonymous: TestClient
) -> None:
    incident_id = open_incident(runtime)
    other = link(runtime, incident_id, person="mallory").split(".")[0]
    forged = other + "." + link(runtime, incident_id).split(".")[1]
    answer = anonymous.post(forged)
    assert answer.status_code == 403 and "altered" in answer.text
    assert state(runtime, incident_id)[0] == "triggered"


def test_an_expired_link_changes_nothing_and_says_so(
    runtime: Runtime, anonymous: TestClient
) -> None:
    incident_id = open_incident(runtime)
    url = link(runtime, incident_id, ttl=timedelta(minutes=30))
    runtime.clock.advance(1800)  # type: ignore[attr-defined]
    answer = anonymous.post(url)
    assert answer.status_code == 410 and "expired" in answer.text
    assert state(runtime, incident_id)[0] == "triggered"


def test_a_link_for_an_incident_already_acknowledged_says_by_whom(
    runtime: Runtime, anonymous: TestClient
) -> None:
    incident_id = open_incident(runtime)
    runtime.incidents.act(incident_id, "ack", actor="dave")
    assert "dave acknowledged it at" in anonymous.get(link(runtime, incident_id)).text
    answer = anonymous.post(link(runtime, incident_id))
    assert answer.status_code == 200 and "dave acknowledged it at" in answer.text
    assert state(runtime, incident_id)[1] == "dave"


def test_ack_pages_follow_accept_language(runtime: Runtime, anonymous: TestClient) -> None:
    incident_id = open_incident(runtime)
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    page = anonymous.get(link(runtime, incident_id), headers=chinese)
    assert '<html lang="zh-CN">' in page.text and "以 carol 的身份确认" in page.text
    done = anonymous.post(link(runtime, incident_id), headers=chinese)
    assert "carol 已确认" in done.text


def test_ack_pages_are_styled_by_the_boards_stylesheet(
    runtime: Runtime, anonymous: TestClient
) -> None:
    page = anonymous.get(link(runtime, open_incident(runtime)))
    assert '<link rel="stylesheet" href="/static/style.css">' in page.text
    assert "style-src 'self'" in page.headers["content-security-policy"]
    assert "script" not in page.text
