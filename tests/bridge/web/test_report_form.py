"""The service desk's report form: routed like an alert, with pickers, and no silent priority."""

from __future__ import annotations

from sqlalchemy import select

from tests.bridge.testclient import TestClient
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, incidents

REPORT = {
    "reporter": "Wang Fang",
    "contact": "+86 10 5555 0101",
    "report_type": "phone",
    "description": "Nobody can pay at the tills",
}


def register(client: TestClient, **fields: str) -> object:
    data = {"csrf_token": client.csrf, **REPORT, **fields}  # type: ignore[attr-defined]
    return client.post("/incidents/new", data=data, follow_redirects=False)


def last_incident(runtime: Runtime) -> object:
    with runtime.store.connect() as conn:
        return conn.execute(select(incidents).order_by(incidents.c.id.desc())).first()


def test_the_form_offers_service_host_team_and_assignee_pickers(client: TestClient) -> None:
    html = client.get("/incidents/new").text
    for name in ("service", "host", "team", "assignee", "labels"):
        assert f'name="{name}"' in html
    assert '<option value="primary">primary</option>' in html  # a person of the policy
    assert '<option value="ops">ops</option>' in html  # a team of the policy


def test_the_form_selects_no_priority_by_itself(client: TestClient) -> None:
    html = client.get("/incidents/new").text
    assert 'value="P3" selected' not in html and '<option value="" selected disabled>' in html


def test_a_report_without_priority_is_refused_naming_it(client: TestClient) -> None:
    response = register(client)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "Fill in: Priority." in response.text  # type: ignore[attr-defined]


def test_a_p1_report_gets_the_routes_team_and_escalation(
    client: TestClient, runtime: Runtime
) -> None:
    response = register(client, priority="P1", service="tills", host="pos-7")
    assert response.status_code == 303  # type: ignore[attr-defined]
    row = last_incident(runtime)
    assert (row.priority, row.escalation_policy, row.service, row.host) == (  # type: ignore[attr-defined]
        "P1",
        "ops",
        "tills",
        "pos-7",
    )


def test_labels_on_the_form_choose_the_route(client: TestClient, runtime: Runtime) -> None:
    register(client, priority="P2", labels="severity=critical, env=prod")
    row = last_incident(runtime)
    assert row.labels == {"severity": "critical", "env": "prod"}  # type: ignore[attr-defined]


def test_an_assignee_chosen_on_the_form_is_recorded_as_assigned(
    client: TestClient, runtime: Runtime
) -> None:
    register(client, priority="P2", assignee="backup")
    row = last_incident(runtime)
    with runtime.store.connect() as conn:
        kinds = [e.kind for e in conn.execute(select(events).where(events.c.incident_id == row.id))]  # type: ignore[attr-defined]
    assert row.assignee == "backup" and "incident.reassigned" in kinds  # type: ignore[attr-defined]


def test_an_unknown_assignee_is_refused_naming_it(client: TestClient) -> None:
    response = register(client, priority="P2", assignee="nobody-such")
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "Choose a person or team from the list" in response.text  # type: ignore[attr-defined]


def test_malformed_labels_are_refused(client: TestClient) -> None:
    response = register(client, priority="P2", labels="just words")
    assert response.status_code == 422 and "name=value" in response.text  # type: ignore[attr-defined]
