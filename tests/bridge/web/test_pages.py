from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.bridge.helpers import INGEST
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import csrf_of
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, incidents

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def post(client: TestClient, path: str, **fields: str) -> object:
    return client.post(path, data={"csrf_token": client.csrf, **fields}, follow_redirects=False)  # type: ignore[attr-defined]


def status_of(runtime: Runtime, incident_id: int) -> str:
    with runtime.store.connect() as conn:
        return str(
            conn.execute(select(incidents.c.status).where(incidents.c.id == incident_id)).scalar()
        )


@pytest.mark.parametrize("path", ["/", "/incidents/1", "/incidents/new"])
def test_pages_require_login(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


def test_an_ingest_token_does_not_sign_in(anonymous: TestClient) -> None:
    form = anonymous.get("/login").text
    response = anonymous.post("/login", data={"csrf_token": csrf_of(form), "token": INGEST})
    assert response.status_code == 401
    assert anonymous.get("/", follow_redirects=False).status_code == 303


def test_session_cookie_is_httponly_and_samesite(anonymous: TestClient) -> None:
    cookie = anonymous.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_session_cookie_is_secure_over_https(runtime: Runtime) -> None:
    from tocsin.bridge.server.app import create_app

    with TestClient(create_app(runtime, start_workers=False), base_url="https://board") as client:
        assert "secure" in client.get("/login").headers["set-cookie"].lower()


def test_session_cookie_is_secure_behind_an_https_public_url(runtime: Runtime) -> None:
    import dataclasses

    from tocsin.bridge.server.app import create_app

    runtime.config = dataclasses.replace(runtime.config, public_url="https://oncall.example.com")
    with TestClient(create_app(runtime, start_workers=False)) as client:
        assert "secure" in client.get("/login").headers["set-cookie"].lower()


def test_login_goes_back_only_to_local_paths(anonymous: TestClient) -> None:
    from tests.bridge.helpers import OPERATOR

    form = anonymous.get("/login").text
    response = anonymous.post(
        "/login",
        data={"csrf_token": csrf_of(form), "token": OPERATOR, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_every_page_forbids_inline_script(client: TestClient) -> None:
    for path in ("/", "/incidents/new", "/login", "/static/board.js"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_alert_text_is_escaped_everywhere(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(
        title=HOSTILE,
        priority="P1",
        actor=None,
        host=HOSTILE,
        summary=HOSTILE,
        labels={"alertname": HOSTILE},
        annotations={"runbook_url": "javascript:alert(3)"},
    )
    for path in ("/", f"/incidents/{incident_id}"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in client.get(f"/incidents/{incident_id}").text


def test_a_form_without_csrf_token_changes_nothing(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P2", actor=None)
    response = client.post(f"/incidents/{incident_id}/ack", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert status_of(runtime, incident_id) == "triggered"


def test_acknowledge_records_the_signed_in_operator(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P2", actor=None)
    response = post(client, f"/incidents/{incident_id}/ack")
    assert response.headers["location"] == f"/incidents/{incident_id}?done=ack"  # type: ignore[attr-defined]
    with runtime.store.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
    assert (row.status, row.acknowledged_by) == ("acknowledged", "alice")


def test_resolve_requires_root_cause_and_solution(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P2", actor=None)
    response = post(client, f"/incidents/{incident_id}/resolve", root_cause="full", solution=" ")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert "Fill in: Solution." in client.get(response.headers["location"]).text  # type: ignore[attr-defined]
    assert status_of(runtime, incident_id) == "triggered"


def test_an_impossible_action_explains_itself(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P2", actor=None)
    response = post(client, f"/incidents/{incident_id}/close", satisfaction="5")
    location = response.headers["location"]  # type: ignore[attr-defined]
    assert location == f"/incidents/{incident_id}?refused=close"
    assert "resolve it first" in client.get(location).text


def test_a_refused_action_is_said_once_and_a_reload_repeats_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P2", actor=None)
    refused = post(client, f"/incidents/{incident_id}/pause", reason="waiting")
    assert refused.status_code == 303  # type: ignore[attr-defined]
    location = refused.headers["location"]  # type: ignore[attr-defined]
    shown = client.get(location)
    assert "Acknowledge the incident before pausing it" in shown.text
    assert "Acknowledge the incident before pausing it" not in client.get(location).text
    with runtime.store.connect() as conn:
        kinds = [
            e.kind for e in conn.execute(select(events).where(events.c.incident_id == incident_id))
        ]
    assert kinds == ["incident.triggered"]


def test_a_forged_refusal_shows_nothing(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P2", actor=None)
    client.cookies.set("tocsin_flash", "eyJtIjoiZXZpbCJ9.forged")
    assert "evil" not in client.get(f"/incidents/{incident_id}?refused=pause").text


def test_resume_keeps_its_reason_in_the_timeline(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P3", actor=None)
    post(client, f"/incidents/{incident_id}/ack")
    post(client, f"/incidents/{incident_id}/pause", reason="waiting for the reporter")
    post(client, f"/incidents/{incident_id}/resume", reason="reporter called back")
    with runtime.store.connect() as conn:
        kinds = [
            (e.kind, e.data.get("reason") or e.data.get("text"))
            for e in conn.execute(
                select(events).where(events.c.incident_id == incident_id).order_by(events.c.id)
            )
        ]
    assert kinds[2:] == [
        ("incident.paused", "waiting for the reporter"),
        ("incident.resumed", "reporter called back"),
    ]
    assert "reporter called back" in client.get(f"/incidents/{incident_id}").text


def test_service_desk_registers_a_phone_report(client: TestClient, runtime: Runtime) -> None:
    response = post(
        client,
        "/incidents/new",
        reporter="Bob",
        contact="+86 10 1234",
        report_type="phone",
        priority="P2",
        description="Printer on fire\nthird floor",
    )
    incident_id = int(response.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]
    with runtime.store.connect() as conn:
        row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()
    assert (row.title, row.reporter, row.report_type, row.priority, row.source) == (
        "Printer on fire",
        "Bob",
        "phone",
        "P2",
        "manual",
    )


def test_chinese_is_chosen_from_accept_language(client: TestClient) -> None:
    html = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert '<html lang="zh-CN">' in html and "未关闭事件" in html


def test_language_switch_is_remembered(client: TestClient) -> None:
    client.get("/lang/zh-CN?next=/")
    html = client.get("/", headers={"Accept-Language": "en"}).text
    assert "未关闭事件" in html


def test_logout_ends_the_session(client: TestClient) -> None:
    post(client, "/logout")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_incident_page_shows_how_similar_incidents_were_solved(
    client: TestClient, runtime: Runtime
) -> None:
    labels = {"alertname": "DiskFull", "instance": "web-1"}
    past = runtime.incidents.create(
        title="Disk full on web-1", priority="P2", actor=None, labels=labels
    )
    runtime.incidents.act(
        past, "resolve", actor="alice", root_cause="old logs", solution="logrotate"
    )
    now = runtime.incidents.create(
        title="Disk full on web-1", priority="P2", actor=None, labels=labels
    )
    html = client.get(f"/incidents/{now}").text
    assert f'href="/incidents/{past}"' in html and "logrotate" in html


def test_error_banners_read_as_sentences(client: TestClient, runtime: Runtime) -> None:
    incident_id = runtime.incidents.create(title="disk", priority="P2", actor=None)
    refused = post(client, f"/incidents/{incident_id}/note", note="a\x00b")
    shown = client.get(refused.headers["location"]).text  # type: ignore[attr-defined]
    assert "Note contains a NUL character." in shown


def test_none_is_one_mark_on_every_page(client: TestClient, runtime: Runtime) -> None:
    runtime.incidents.create(title="disk", priority="P2", actor=None)
    for path in ("/", "/reports", "/incidents"):
        html = client.get(path).text
        assert "<td>-</td>" not in html and "<td>–</td>" not in html, path
    assert "—" in client.get("/reports").text
