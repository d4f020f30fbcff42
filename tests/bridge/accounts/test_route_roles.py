"""Every route of the app, with every role: allowed or refused (403 naming the role needed).

The table below is the specification (README: "Roles"); a route the app serves that the table
does not name fails the first test, so no new route ships without a decision on who may call it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from tests.bridge.helpers import FakeClock, config_for, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.accounts.roles import ROLES, needed_role
from tocsin.bridge.platform.config import Token, digest
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.web.actions import ACTION_PERMISSIONS
from tocsin.bridge.web.messages_accounts import EN
from tocsin.bridge.web.session import SESSION_COOKIE, encode_session, new_session

PUBLIC = "public"  # no credentials: health, sign-in, signed links, phone callbacks (signatures)
SIGNED_IN = "signed_in"  # any signed-in person, whatever their role
INGEST = "ingest"
BY_ACTION = "by_action"  # the action in the path decides: ACTION_PERMISSIONS
MANAGE_OR_INGEST = "manage_or_ingest"  # maintenance windows: managers, and agents for their own
# Served without a role by decision of the network half of issue 16 (its own tests cover them).
ELSEWHERE = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/api/v2/alerts"): INGEST,
    ("POST", "/api/v1/alertmanager"): INGEST,
    ("POST", "/api/v1/heartbeats"): INGEST,
    ("GET", "/api/v1/incidents"): "read",
    ("POST", "/api/v1/incidents"): "register",
    ("GET", "/api/v1/incidents/{incident_id}"): "read",
    ("POST", "/api/v1/incidents/{incident_id}/ack"): "respond",
    ("POST", "/api/v1/incidents/{incident_id}/contact"): "communicate",
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): "respond",
    ("POST", "/api/v1/incidents/{incident_id}/close"): "close",
    ("POST", "/api/v1/incidents/{incident_id}/pause"): "communicate",
    ("POST", "/api/v1/incidents/{incident_id}/resume"): "communicate",
    ("POST", "/api/v1/incidents/{incident_id}/escalate"): "respond",
    ("POST", "/api/v1/incidents/{incident_id}/reassign"): "respond",
    ("POST", "/api/v1/incidents/{incident_id}/reopen"): "respond",
    ("POST", "/api/v1/incidents/{incident_id}/resolution"): "respond",
    ("POST", "/api/v1/incidents/{incident_id}/notes"): "communicate",
    ("POST", "/api/v1/incidents/{incident_id}/title"): "communicate",
    ("GET", "/api/v1/incidents/{incident_id}/similar"): "read",
    ("POST", "/api/v1/incidents/{incident_id}/breaches/{clock}/dispute"): "respond",
    ("POST", "/api/v1/incidents/{incident_id}/breaches/{clock}/decision"): "manage",
    ("POST", "/api/v1/incidents/{incident_id}/breaches/{clock}"): "respond",
    ("POST", "/api/v1/maintenance"): MANAGE_OR_INGEST,
    ("GET", "/api/v1/maintenance"): "read",
    ("GET", "/api/v1/maintenance/{window_id}"): "read",
    ("PATCH", "/api/v1/maintenance/{window_id}"): "manage",
    ("DELETE", "/api/v1/maintenance/{window_id}"): "manage",
    ("GET", "/api/v1/reports/sla"): "manage",
    ("GET", "/api/v1/kb/search"): "read",
    ("GET", "/api/v1/outbox"): "manage",
    ("POST", "/api/v1/outbox/{entry_id}/retry"): "manage",
    ("GET", "/api/v1/oncall"): "read",
    ("GET", "/api/v1/tokens"): "read",
    ("POST", "/api/v1/tokens"): "read",
    ("DELETE", "/api/v1/tokens/{token_id}"): "read",
    ("POST", "/api/v1/phone/{channel}/voice"): PUBLIC,
    ("POST", "/api/v1/phone/{channel}/sms"): PUBLIC,
    ("POST", "/api/v1/phone/{channel}/status"): PUBLIC,
    ("POST", "/api/v1/phone/{channel}/report"): PUBLIC,  # the channel's callback_token in the URL
    ("POST", "/api/v1/phone/{channel}/reply"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/lang/{language}"): PUBLIC,
    ("GET", "/static/{name}"): PUBLIC,
    ("GET", "/ack/{token}"): PUBLIC,
    ("POST", "/ack/{token}"): PUBLIC,
    ("GET", "/survey/{token}"): PUBLIC,  # the reporter's survey: a signed, single-use link
    ("POST", "/survey/{token}"): PUBLIC,
    ("GET", "/invite/{code}"): PUBLIC,
    ("GET", "/sso/login"): PUBLIC,
    ("GET", "/sso/callback"): PUBLIC,
    ("POST", "/invite/{code}"): PUBLIC,
    ("GET", "/account"): SIGNED_IN,
    ("POST", "/account/sign-out-everywhere"): SIGNED_IN,
    ("POST", "/account/password"): SIGNED_IN,
    ("POST", "/account/tokens"): SIGNED_IN,
    ("POST", "/account/tokens/{token_id}/revoke"): SIGNED_IN,
    ("GET", "/people"): "administer",
    ("POST", "/people"): "administer",
    ("POST", "/people/{name}/{action}"): "administer",
    ("GET", "/"): "read",
    ("GET", "/incidents"): "read",
    ("GET", "/kb"): "read",
    ("GET", "/maintenance"): "read",
    ("POST", "/maintenance"): "manage",
    ("POST", "/maintenance/weekly"): "manage",
    ("POST", "/maintenance/{window_id}/{action}"): "manage",
    ("GET", "/incidents/new"): "register",
    ("POST", "/incidents/new"): "register",
    ("GET", "/incidents/{incident_id}"): "read",
    ("POST", "/incidents/{incident_id}/{action}"): BY_ACTION,
    ("GET", "/reports"): "manage",
    ("GET", "/reports.csv"): "manage",
    ("POST", "/reports/breaches/{incident_id}/{clock}"): "manage",
}
# Path parameters that name nothing: an allowed caller gets 404 or 422, never a change.
FILLERS = {
    "incident_id": "999999",
    "window_id": "999999",
    "entry_id": "999999",
    "token_id": "999999",
    "clock": "response",
    "channel": "nosuch",
    "language": "en",
    "name": "nobody-such",
    "token": "x",
    "code": "x",
    "action": "role",
}


def served(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Yield (method, path) of every route the app serves, included routers too."""
    for route in iter_route_contexts(app.routes):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD" and route.path is not None:
                yield method, route.path


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime with a shared token of every role and a person of every role."""
    config = config_for(sqlite_url)
    extra = tuple(Token(f"tok-{role}", role, digest(f"{role}-secret")) for role in ROLES)
    built = make_runtime(
        sqlite_url, clock, config=dataclasses.replace(config, tokens=(*config.tokens, *extra))
    )
    for role in ROLES:
        built.accounts.add(f"as-{role}", None, role)
    yield built
    built.store.dispose()


@pytest.fixture
def person_tokens(runtime: Runtime) -> dict[str, str]:
    """Each role's person's own API token, by role; the ingest role's is the shared ingest token."""
    tokens = {role: runtime.accounts.create_token(f"as-{role}", "test", None)[0] for role in ROLES}
    return tokens | {INGEST: "ingest-secret"}


def test_every_route_has_a_role_decision(anonymous: TestClient) -> None:
    missing = sorted(
        set(served(anonymous.app))
        - set(ROUTES)
        - {(m, p) for m, p in served(anonymous.app) if p in ELSEWHERE}
    )  # type: ignore[arg-type]
    assert not missing, f"routes without an entry in ROUTES (decide who may call them): {missing}"
    gone = sorted(set(ROUTES) - set(served(anonymous.app)))  # type: ignore[arg-type]
    assert not gone, f"ROUTES names routes the app no longer serves: {gone}"


def _path(path: str, **values: str) -> str:
    for name, value in (FILLERS | values).items():
        path = path.replace("{" + name + "}", value)
    return path


def _cases() -> Iterator[tuple[str, str, str]]:
    """Yield (method, concrete path, permission), one per web action for action routes."""
    for (method, path), permission in ROUTES.items():
        if permission == BY_ACTION:
            for action, needed in ACTION_PERMISSIONS.items():
                yield method, _path(path, action=action), needed
        elif permission != PUBLIC:
            yield method, _path(path), permission


def _allowed(role: str, permission: str) -> bool:
    if permission == INGEST:
        return role == INGEST
    if permission == SIGNED_IN:
        return role != INGEST
    if permission == MANAGE_OR_INGEST:
        return role == INGEST or _allowed(role, "manage")
    from tocsin.bridge.accounts.roles import allows

    return allows(role, permission)


def _needed(permission: str) -> str:
    if permission == MANAGE_OR_INGEST:
        return needed_role("manage")
    return INGEST if permission == INGEST else needed_role(permission)


def _api_call(
    client: TestClient, method: str, path: str, token: str
) -> tuple[int, dict[str, object]]:
    response = client.request(method, path, json={}, headers={"Authorization": f"Bearer {token}"})
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    return response.status_code, body


def _web_call(
    client: TestClient, runtime: Runtime, method: str, path: str, role: str
) -> tuple[int, str]:
    name = f"as-{role}"
    sid = runtime.accounts.open_session(name, "password", None)
    session = new_session(runtime.clock(), name, None, sid)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, encode_session(session, b"test-secret"))
    data = {"csrf_token": session.csrf} if method == "POST" else None
    response = client.request(method, path, data=data, follow_redirects=False)
    if response.headers.get("location", "").startswith("/login?next="):
        return 401, "sent to sign in"  # the session was not taken: a broken test, not a refusal
    return response.status_code, response.text


def test_every_api_route_admits_exactly_its_roles(
    anonymous: TestClient, person_tokens: dict[str, str]
) -> None:
    wrong = []
    for method, path, permission in _cases():
        if not path.startswith("/api/"):
            continue
        for role in (*ROLES, INGEST):
            status, body = _api_call(anonymous, method, path, person_tokens[role])
            if _allowed(role, permission):
                if status in (401, 403):
                    wrong.append(f"{role} {method} {path}: refused {status} {body}")
            elif status != 403 or body.get("needed_role") != _needed(permission):
                wrong.append(
                    f"{role} {method} {path}: expected 403 naming the role, got {status} {body}"
                )
    assert not wrong, "\n".join(wrong)


def test_every_page_admits_exactly_its_roles(anonymous: TestClient, runtime: Runtime) -> None:
    wrong = []
    for method, path, permission in _cases():
        if path.startswith("/api/"):
            continue
        for role in ROLES:
            status, text = _web_call(anonymous, runtime, method, path, role)
            if _allowed(role, permission):
                if status in (401, 403):
                    wrong.append(f"{role} {method} {path}: refused {status}")
            elif status != 403 or EN[f"role.{_needed(permission)}"] not in text:
                wrong.append(
                    f"{role} {method} {path}: expected a 403 page naming the role, got {status}"
                )
    assert not wrong, "\n".join(wrong)


def test_a_shared_operator_token_keeps_todays_powers(anonymous: TestClient) -> None:
    headers = {"Authorization": "Bearer operator-secret"}
    assert anonymous.get("/api/v1/reports/sla", headers=headers).status_code == 200
    assert anonymous.get("/api/v1/outbox", headers=headers).status_code == 200
    refused = anonymous.post("/api/v1/incidents", json={"title": "x"}, headers=bearer_of("viewer"))
    assert refused.status_code == 403 and refused.json()["needed_role"] == "service_desk"


def bearer_of(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {role}-secret"}


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("viewer", set()),
        ("service_desk", {"contact", "note"}),
        ("responder", {"ack", "contact", "note", "reassign", "escalate", "resolve"}),
    ],
)
def test_the_incident_page_offers_only_the_actions_the_role_may_take(
    anonymous: TestClient, runtime: Runtime, role: str, shown: set[str]
) -> None:
    created = anonymous.post(
        "/api/v1/incidents", json={"title": "db", "priority": "P1"}, headers=bearer_of("manager")
    )
    path = f"/incidents/{created.json()['id']}"
    _, page = _web_call(anonymous, runtime, "GET", path, role)
    offered = {a for a in ACTION_PERMISSIONS if f'action="{path}/{a}"' in page}
    assert offered == shown
