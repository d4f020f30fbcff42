"""Hostile requests against every endpoint: never a 5xx; every refusal says which field or why.

The JSON endpoints come from the app's own /openapi.json, so a new endpoint is fuzzed without
anyone remembering to add it. Bodies are drawn from each endpoint's schema (right shapes with
wrong values) and from nowhere (any JSON, non-JSON bytes, wrong content types); path and query
parameters get negative, huge, non-numeric, NUL and invalid UTF-8 values. The web board's pages
must answer an HTML page even when refusing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bridge.helpers import INGEST, OPERATOR, bearer, make_runtime
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in
from tocsin.bridge.server.app import create_app

HOSTILE = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
INGEST_PATHS = ("/api/v2/alerts", "/api/v1/alertmanager", "/api/v1/heartbeats")
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")
# Operations either role may call: an agent opens a narrow window on its own host (its refusals
# are tested in tests/bridge/maintenance/test_hold.py); an operator opens any window.
EITHER_ROLE = {("POST", "/api/v1/maintenance")}
HTML_PATHS = ("/ack/",)  # one-click ack pages answer people, in HTML
SIGNED_PATHS = ("/api/v1/phone/",)  # phone providers' callbacks: their signature, not a token
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# Alertmanager's webhook has no schema of its own in the spec; this is its shape.
WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "version": {"type": "string"},
        "status": {"type": "string"},
        "receiver": {"type": "string"},
        "groupLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    "startsAt": {"type": "string"},
                    "endsAt": {"type": "string"},
                },
            },
        },
    },
}

SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff tail",
    "'; DROP TABLE incidents; --",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    "</textarea><img src=x onerror=alert(1)>",
    "{{ 7*7 }}",
    "%s%s%n",
    "../../../etc/passwd",
    "\u202egnp.exe",
    "１２３",
    "NaN",
    "-1",
    "9" * 400,
    "😀" * 300,
    "x" * 30_000,
    "P1",
    "triggered",
    "response",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T25:61:00Z",
]
SPECIAL_IDS = [
    "0",
    "-1",
    "1",
    "2",
    "1.5",
    "1e3",
    "0x10",
    "+1",
    " 1",
    "abc",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "-99999999999999999999",
    "%00",
    "１",
    "NaN",
]
SPECIAL_QUERY = [
    "",
    "-1",
    "0",
    "1",
    "1000",
    "1001",
    "1000000000",
    "99999999999999999999",
    "abc",
    "\x00",
    "\ud800",
    "nonsense",
    "7d",
    "-5h",
    "99999999999w",
    "99999999d",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z",
    "2026-03-01T00:00:00",
    "P1,P2,,%",
    "triggered,bogus",
    "'; DROP TABLE incidents; --",
    "x" * 5000,
]
RAW_BODIES = [
    b"",
    b"{",
    b"null",
    b"[]",
    b"{}",
    b'"just a string"',
    b"NaN",
    b"1e999999",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"\xff\xfe\x00\x00",
    b"\x00" * 64,
    b"<xml><a/></xml>",
    b"title=x&priority=P1",
    b'{"labels": {"alertname": "x"}}\x00',
    '{"title": "caf\u00e9"}'.encode("latin-1"),
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/xml",
    "",
]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API as its OpenAPI document describes it."""

    method: str
    path: str
    path_params: tuple[str, ...] = ()
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def token(self) -> str | None:
        if self.path in OPEN_PATHS or self.path.startswith((*HTML_PATHS, *SIGNED_PATHS)):
            return None
        return INGEST if self.path in INGEST_PATHS else OPERATOR

    @property
    def html(self) -> bool:
        return self.path.startswith(HTML_PATHS)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _resolve(schema: Any, spec: dict[str, Any]) -> Any:
    """Return `schema` with every $ref replaced by the component it points to."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return _resolve(spec["components"]["schemas"][name], spec)
        return {key: _resolve(value, spec) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolve(item, spec) for item in schema]
    return schema


def endpoints_of(spec: dict[str, Any]) -> list[Endpoint]:
    """Return every operation in an OpenAPI document, with its parameters and body schema."""
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            if path == "/api/v1/alertmanager":
                body = WEBHOOK_SCHEMA
            found.append(
                Endpoint(
                    method=method.upper(),
                    path=path,
                    path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                    query={
                        p["name"]: _resolve(p.get("schema", {}), spec)
                        for p in params
                        if p["in"] == "query"
                    },
                    body=_resolve(body, spec) if body is not None else None,
                )
            )
    return found


def _spec() -> dict[str, Any]:
    from tocsin.bridge.platform.config import BridgeConfig
    from tocsin.bridge.runtime import build_runtime

    return create_app(
        build_runtime(BridgeConfig(database_url="sqlite://")), start_workers=False
    ).openapi()


ENDPOINTS = endpoints_of(_spec())
WITH_BODY = [e for e in ENDPOINTS if e.method == "POST"]
WITH_PATH = [e for e in ENDPOINTS if e.path_params]
WITH_QUERY = [e for e in ENDPOINTS if e.query]


# Strategies -----------------------------------------------------------------------------------

hostile_text = st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=40))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**40, -1, 0]),
    st.floats(),
    hostile_text,
)
any_json = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)


def shaped(schema: dict[str, Any] | None, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the schema's shape whose leaves are sometimes plausible, sometimes hostile."""
    schema = schema or {}
    if depth > 4:
        return any_json
    if "anyOf" in schema:
        return st.one_of([shaped(option, depth + 1) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        optional = {name: shaped(sub, depth + 1) for name, sub in properties.items()}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return st.one_of(
                st.fixed_dictionaries({}, optional=optional),
                st.dictionaries(hostile_text, shaped(extra, depth + 1), max_size=5),
            )
        return st.fixed_dictionaries({}, optional=optional)
    if kind == "array":
        return st.lists(shaped(schema.get("items"), depth + 1), max_size=4)
    plausible = {
        "string": st.sampled_from(["P1", "P2", "x", "web-1", "2026-03-02T09:00:00Z"]),
        "integer": st.integers(min_value=-3, max_value=6),
        "number": st.floats(min_value=-1, max_value=100),
        "boolean": st.booleans(),
    }.get(kind or "", any_json)
    return st.one_of(plausible, plausible, any_json)


def encoded(value: str) -> str:
    """Percent-encode any text, lone surrogates included (as the invalid UTF-8 they become)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def json_bytes(value: Any) -> bytes:
    """Serialise like a careless sender: NaN allowed, lone surrogates escaped."""
    return json.dumps(value).encode()


# Checks ---------------------------------------------------------------------------------------


def assert_refused_well(endpoint: Endpoint | str, response: httpx.Response, html: bool) -> None:
    """Never a 5xx or a traceback; a 4xx is an HTML page for people, else JSON naming why."""
    status = response.status_code
    assert status < 500, f"{endpoint}: {status} {response.text[:300]}"
    assert "Traceback" not in response.text, f"{endpoint}: {response.text[:300]}"
    if status < 400:
        return
    kind = response.headers.get("content-type", "")
    if html:
        assert kind.startswith("text/html"), f"{endpoint}: {status} {kind} {response.text[:200]}"
        return
    assert kind.startswith("application/json"), f"{endpoint}: {status} {kind} {response.text[:200]}"
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], f"{endpoint}: {body}"
    if status in (400, 422) and "field" not in body:
        assert re.search(r"json|body|content|invalid|expected", body["error"], re.I), (
            f"{endpoint}: {status} names neither a field nor a reason: {body}"
        )


# Fixtures -------------------------------------------------------------------------------------


@dataclass
class Bridge:
    client: TestClient
    web: TestClient
    csrf: str


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """One app on a temporary SQLite database with two incidents, shared by every example."""
    path: Path = tmp_path_factory.mktemp("hostile") / "tocsin.db"
    app = create_app(make_runtime(f"sqlite:///{path}"), start_workers=False)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        TestClient(app, raise_server_exceptions=False, headers=BROWSER) as web,
    ):
        for title in ("Disk full", "Printer on fire"):
            made = client.post(
                "/api/v1/incidents",
                json={"title": title, "priority": "P2"},
                headers=bearer(OPERATOR),
            )
            assert made.status_code == 201, made.text
        yield Bridge(client, web, sign_in(web))


def fill(endpoint: Endpoint, values: dict[str, str] | None = None) -> str:
    """Return the endpoint's path with its parameters filled (incident 1 unless given)."""
    path = endpoint.path
    for name in endpoint.path_params:
        default = "response" if name == "clock" else "1"
        path = path.replace("{" + name + "}", (values or {}).get(name, default))
    return path


def send(
    bridge: Bridge,
    endpoint: Endpoint,
    path: str,
    *,
    content: bytes | None = None,
    content_type: str | None = "application/json",
    query: str = "",
    token: str | None = None,
) -> httpx.Response:
    headers = bearer(token or endpoint.token) if (token or endpoint.token) else {}
    if endpoint.html:
        headers.update(BROWSER)
    if content is not None and content_type:
        headers["Content-Type"] = content_type
    url = path + ("?" + query if query else "")
    return bridge.client.request(endpoint.method, url, content=content, headers=headers)


# The API -------------------------------------------------------------------------------------


def test_the_spec_lists_every_route_the_design_promises() -> None:
    listed = {str(e) for e in ENDPOINTS}
    for route in (
        "POST /api/v2/alerts",
        "POST /api/v1/alertmanager",
        "POST /api/v1/heartbeats",
        "GET /api/v1/incidents",
        "POST /api/v1/incidents/{incident_id}/resolve",
        "GET /api/v1/reports/sla",
        "GET /api/v1/outbox",
    ):
        assert route in listed


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
@HOSTILE
@given(data=st.data())
def test_bodies_of_the_right_shape_and_wrong_values_are_refused_by_field(
    bridge: Bridge, endpoint: Endpoint, data: st.DataObject
) -> None:
    body = data.draw(shaped(endpoint.body), label="body")
    response = send(bridge, endpoint, fill(endpoint), content=json_bytes(body))
    assert_refused_well(endpoint, response, endpoint.html)


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
@HOSTILE
@given(body=any_json)
def test_any_json_body_is_answered_without_a_server_error(
    bridge: Bridge, endpoint: Endpoint, body: Any
) -> None:
    response = send(bridge, endpoint, fill(endpoint), content=json_bytes(body))
    assert_refused_well(endpoint, response, endpoint.html)


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
@HOSTILE
@given(
    raw=st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=200)),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_non_json_bodies_and_wrong_content_types_are_refused(
    bridge: Bridge, endpoint: Endpoint, raw: bytes, content_type: str
) -> None:
    response = send(bridge, endpoint, fill(endpoint), content=raw, content_type=content_type)
    assert_refused_well(endpoint, response, endpoint.html)


@pytest.mark.parametrize("endpoint", WITH_PATH, ids=str)
@HOSTILE
@given(value=st.one_of(st.sampled_from(SPECIAL_IDS), hostile_text))
def test_bad_path_parameters_are_refused(bridge: Bridge, endpoint: Endpoint, value: str) -> None:
    for name in endpoint.path_params:
        path = fill(endpoint, {name: encoded(value)})
        response = send(
            bridge, endpoint, path, content=b"{}" if endpoint.method == "POST" else None
        )
        if response.status_code == 404 and "{" + name + "}" not in endpoint.path:
            continue
        assert_refused_well(endpoint, response, endpoint.html)


@pytest.mark.parametrize("endpoint", WITH_QUERY, ids=str)
@HOSTILE
@given(value=st.one_of(st.sampled_from(SPECIAL_QUERY), hostile_text), repeat=st.booleans())
def test_bad_query_parameters_are_refused_by_name(
    bridge: Bridge, endpoint: Endpoint, value: str, repeat: bool
) -> None:
    for name in endpoint.query:
        query = f"{name}={encoded(value)}" + (f"&{name}={encoded(value)}" if repeat else "")
        if name != "q" and "q" in endpoint.query:
            query += "&q=disk"
        response = send(bridge, endpoint, fill(endpoint), query=query)
        assert_refused_well(endpoint, response, endpoint.html)


@HOSTILE
@given(
    header=st.one_of(
        st.sampled_from(
            ["", "Bearer", "Bearer ", "Basic x", "bearer  \t", "Bearer " + "a" * 10_000]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    )
)
def test_bad_authorization_headers_are_refused_with_json(bridge: Bridge, header: str) -> None:
    for endpoint in ENDPOINTS:
        if endpoint.token is None:
            continue
        response = bridge.client.request(
            endpoint.method, fill(endpoint), headers={"Authorization": header}
        )
        assert response.status_code in (401, 403, 422), f"{endpoint}: {response.status_code}"
        assert_refused_well(endpoint, response, html=False)


def test_an_ingest_token_is_refused_where_an_operator_is_needed(bridge: Bridge) -> None:
    for endpoint in ENDPOINTS:
        if endpoint.token != OPERATOR or (endpoint.method, endpoint.path) in EITHER_ROLE:
            continue
        response = send(bridge, endpoint, fill(endpoint), token=INGEST)
        assert response.status_code == 403, f"{endpoint}: {response.status_code}"
        assert_refused_well(endpoint, response, html=False)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_unsupported_methods_are_refused_with_json(bridge: Bridge, method: str) -> None:
    declared = {(e.path, e.method) for e in ENDPOINTS}
    for endpoint in ENDPOINTS:
        if (endpoint.path, method) in declared:
            continue  # the path supports this method (a maintenance window's PATCH, DELETE)
        response = bridge.client.request(method, fill(endpoint), headers=bearer(OPERATOR))
        assert response.status_code in (404, 405), f"{method} {endpoint.path}"
        assert_refused_well(f"{method} {endpoint.path}", response, html=False)


KNOWN = [
    ("GET", "/api/v1/incidents/99999999999999999999", None, 422, "path.incident_id"),
    ("POST", "/api/v1/incidents/9223372036854775808/ack", None, 422, "path.incident_id"),
    ("GET", "/api/v1/incidents/0", None, 422, "path.incident_id"),
    ("GET", "/api/v1/incidents?cursor=99999999999999999999", None, 422, "cursor"),
    ("GET", "/api/v1/incidents?cursor=%C2%B2", None, 422, "cursor"),
    ("GET", "/api/v1/incidents?limit=-1", None, 422, "query.limit"),
    ("GET", "/api/v1/incidents?limit=1000000000", None, 422, "query.limit"),
    ("GET", "/api/v1/reports/sla?since=99999999d", None, 422, "since"),
    ("GET", "/api/v1/reports/sla?since=0001-01-01T00:00:00%2B01:00", None, 422, "since"),
    ("GET", "/api/v1/reports/sla?since=nonsense", None, 422, "since"),
    ("POST", "/api/v1/outbox/99999999999999999999/retry", None, 422, "path.entry_id"),
    ("POST", "/api/v1/incidents/1/close", [], 422, "body"),
    ("POST", "/api/v1/incidents", {"title": "\ud800", "priority": "P1"}, 422, "title"),
    ("POST", "/api/v2/alerts", [{"labels": {"a": "b"}, "annotations": {"s": "\ud800"}}], 400,
     "[0].annotations.s"),
    ("POST", "/api/v2/alerts", [{"labels": {"\ud800": "b"}}], 400, "[0].labels.\\ud800"),
    ("POST", "/api/v2/alerts", [{"labels": {"a": "b"}, "startsAt": "9999-12-31T23:59:59-01:00"}],
     400, "[0].startsAt"),
    ("POST", "/api/v2/alerts", [{"labels": {"a": "b"}, "generatorURL": "\udfff"}], 400,
     "[0].generatorURL"),
    ("POST", "/api/v1/heartbeats", {"host": "web-1", "interval_seconds": "NaN"}, 422,
     "interval_seconds"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), KNOWN)
def test_known_hostile_requests_are_refused_naming_the_field(
    bridge: Bridge, method: str, path: str, body: Any, status: int, field: str
) -> None:
    token = INGEST if path.startswith(INGEST_PATHS) else OPERATOR
    content = None if body is None else json_bytes(body)
    response = bridge.client.request(
        method, path, content=content, headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert (response.status_code, response.json().get("field")) == (status, field), response.text


# The web board --------------------------------------------------------------------------------

WEB_GETS = [
    "/",
    "/login",
    "/incidents/new",
    "/incidents/{id}",
    "/reports",
    "/lang/{id}",
]
WEB_POSTS = [
    "/incidents/new",
    "/incidents/{id}/ack",
    "/incidents/{id}/resolve",
    "/incidents/{id}/close",
    "/incidents/{id}/reassign",
    "/incidents/{id}/notes",
    "/incidents/1/{id}",
    "/reports/breaches/{id}/response",
    "/reports/breaches/1/{id}",
    "/login",
]
WEB_FIELDS = [
    "title",
    "priority",
    "description",
    "reporter",
    "contact",
    "type",
    "note",
    "text",
    "reason",
    "assignee",
    "root_cause",
    "solution",
    "satisfaction",
    "comment",
    "exempt",
    "back",
    "next",
    "token",
]


def form_bytes(fields: dict[str, str]) -> bytes:
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in fields.items()).encode()


@pytest.mark.parametrize("template", WEB_GETS)
@HOSTILE
@given(
    value=st.one_of(st.sampled_from(SPECIAL_IDS + SPECIAL_QUERY), hostile_text),
    name=st.sampled_from(["priority", "status", "team", "since", "until", "next", "done"]),
)
def test_web_pages_answer_html_to_bad_paths_and_queries(
    bridge: Bridge, template: str, value: str, name: str
) -> None:
    url = template.replace("{id}", encoded(value)) + f"?{name}={encoded(value)}"
    response = bridge.web.get(url, follow_redirects=False)
    assert_refused_well(f"GET {template}", response, html=True)


@pytest.mark.parametrize("path", ["/nope", "/incidents/1/ack", "/incidents//x", "/static/../x"])
def test_a_browser_asking_for_no_page_gets_an_html_404(bridge: Bridge, path: str) -> None:
    response = bridge.web.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code in (404, 405), response.text
    assert response.headers["content-type"].startswith("text/html"), response.text


def test_an_api_client_asking_for_no_endpoint_gets_json(bridge: Bridge) -> None:
    response = bridge.client.get("/api/v1/nope", headers={"Accept": "text/html, */*"})
    assert (response.status_code, response.json()["error"]) == (404, "Not Found")


@HOSTILE
@given(value=st.one_of(st.sampled_from(SPECIAL_QUERY), hostile_text))
def test_the_report_download_refuses_bad_windows_without_a_server_error(
    bridge: Bridge, value: str
) -> None:
    response = bridge.web.get(f"/reports.csv?since={encoded(value)}", follow_redirects=False)
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("template", WEB_POSTS)
@HOSTILE
@given(
    value=st.one_of(st.sampled_from(SPECIAL_IDS), hostile_text),
    fields=st.dictionaries(st.sampled_from(WEB_FIELDS), hostile_text, max_size=6),
    csrf=st.booleans(),
)
def test_web_forms_answer_html_to_hostile_fields(
    bridge: Bridge, template: str, value: str, fields: dict[str, str], csrf: bool
) -> None:
    if csrf:
        fields = {**fields, "csrf_token": bridge.csrf}
    response = bridge.web.post(
        template.replace("{id}", encoded(value)),
        content=form_bytes(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert_refused_well(f"POST {template}", response, html=True)


NUL_REQUESTS = [
    ("POST", "/api/v1/incidents", {"title": "a\x00b", "priority": "P2"}),
    ("POST", "/api/v1/incidents", {"title": "t", "priority": "P2", "description": "\x00"}),
    ("POST", "/api/v1/incidents", {"title": "t", "priority": "P2", "labels": {"k\x00": "v"}}),
    ("POST", "/api/v1/incidents", {"title": "t", "priority": "P2", "reporter": "\x00"}),
    ("POST", "/api/v1/incidents/1/notes", {"text": "a\x00b"}),
    ("POST", "/api/v1/incidents/1/reassign", {"assignee": "\x00"}),
    ("POST", "/api/v1/incidents/1/pause", {"reason": "\x00"}),
    ("POST", "/api/v1/incidents/1/breaches/response", {"reason": "\x00"}),
    ("POST", "/api/v1/heartbeats", {"host": "web\x00"}),
    ("POST", "/api/v1/heartbeats", {"host": "web", "labels": {"a": "\x00"}}),
    ("GET", "/api/v1/incidents?priority=%00&status=triggered", None),
    ("GET", "/api/v1/reports/sla?team=%00", None),
    ("GET", "/api/v1/kb/search?q=%00", None),
    ("GET", "/api/v1/outbox?status=%00", None),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_REQUESTS)
def test_nul_characters_never_reach_the_database_as_a_server_error(
    database_url: str, method: str, path: str, body: Any
) -> None:
    """PostgreSQL refuses NUL in text: the API must refuse it first, naming the field."""
    with TestClient(create_app(make_runtime(database_url)), raise_server_exceptions=False) as api:
        made = api.post(
            "/api/v1/incidents", json={"title": "x", "priority": "P2"}, headers=bearer(OPERATOR)
        )
        assert made.status_code == 201, made.text
        token = INGEST if path.startswith(INGEST_PATHS) else OPERATOR
        content = None if body is None else json_bytes(body)
        response = api.request(
            method,
            path,
            content=content,
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        assert_refused_well(f"{method} {path}", response, html=False)


NUL_FORMS = [
    ("/incidents/new", {"title": "a\x00b", "priority": "P2", "reporter": "r", "contact": "c"}),
    ("/incidents/new", {"title": "t", "priority": "P2", "reporter": "\x00", "contact": "c"}),
    ("/incidents/1/reassign", {"assignee": "a\x00"}),
    ("/incidents/1/note", {"note": "a\x00"}),
    ("/incidents/1/resolve", {"root_cause": "\x00", "solution": "s"}),
    ("/reports/breaches/1/response", {"reason": "a\x00"}),
]


@pytest.mark.parametrize(("path", "fields"), NUL_FORMS)
def test_nul_characters_in_web_forms_are_refused_with_a_page_on_every_engine(
    database_url: str, path: str, fields: dict[str, str]
) -> None:
    runtime = make_runtime(database_url)
    app = create_app(runtime)
    with TestClient(app, raise_server_exceptions=False, headers=BROWSER) as web:
        csrf = sign_in(web)
        runtime.incidents.create(title="x", priority="P2", actor="alice")
        response = web.post(
            path,
            content=form_bytes({**fields, "csrf_token": csrf}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert_refused_well(f"POST {path}", response, html=True)
        board = web.get("/reports?team=%00", follow_redirects=False)
        assert_refused_well("GET /reports", board, html=True)
