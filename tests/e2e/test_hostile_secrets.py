"""Secrets never leak: a real bridge and real agents driven down their error paths at DEBUG.

The bridge holds tokens (inline and from a file), a signing key, an SMTP password from a file,
a DingTalk robot secret and access token, a WeCom key in its URL and a webhook password in
its URL. Its deliveries fail against a closed port and against a receiver that echoes the
request (URL and headers) into its error page. Agents push with tokens the bridge refuses, or
to nowhere. Then no secret may appear in any log, API answer, outbox listing or web page.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.bridge.server import BridgeProcess, free_port

AGENT = [sys.executable, "-c", "from tocsin.agent.cli import main; main()"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def secret(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(12)}"


SECRETS = {
    "ingest token": secret("ingestTok"),
    "operator token": secret("operatorTok"),
    "signing key": secret("signingKey"),
    "smtp password": secret("smtpPass"),
    "dingtalk secret": secret("SECdingSecret"),
    "dingtalk access token": secret("dingAccess"),
    "wecom key": secret("wecomKey"),
    "webhook password": secret("hookPass"),
    "agent push token": secret("agentTok"),
    "agent token file": secret("agentFileTok"),
}


class Echo(BaseHTTPRequestHandler):
    """A hostile receiver: refuses everything, echoing the request line and headers back."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f"refused {self.command} {self.path}\n{self.headers}".encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the bridge's logs, not this server's."""


class Refusing:
    """An SMTP server that hears the password and refuses the login (535), as on a typo."""

    def __init__(self) -> None:
        self.passwords: list[bytes] = []

    def authenticate(self, *args: Any) -> AuthResult:
        self.passwords.append(getattr(args[-1], "password", b""))
        return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[int, Refusing]]:
    refusing = Refusing()
    controller = Controller(
        refusing,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=refusing.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield controller.port, refusing
    controller.stop()


@pytest.fixture
def echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def policy_text(closed: int, echo: int) -> str:
    s = SECRETS
    channels = {
        "mail": {"type": "email", "to": ["ops@example.com"]},
        "ding": {
            "type": "dingtalk",
            "url": f"http://127.0.0.1:{echo}/robot/send?access_token={s['dingtalk access token']}",
            "secret": s["dingtalk secret"],
        },
        "ding-closed": {
            "type": "dingtalk",
            "url": f"http://127.0.0.1:{closed}/robot/send?access_token={s['dingtalk access token']}",
            "secret": s["dingtalk secret"],
        },
        "wecom": {
            "type": "wecom",
            "url": f"http://127.0.0.1:{echo}/cgi-bin/webhook/send?key={s['wecom key']}",
        },
        "wecom-closed": {
            "type": "wecom",
            "url": f"http://127.0.0.1:{closed}/cgi-bin/webhook/send?key={s['wecom key']}",
        },
        "hook": {
            "type": "webhook",
            "url": f"http://pager:{s['webhook password']}@127.0.0.1:{echo}/hook",
            "events": ["*"],
        },
    }
    policy = {
        "priorities": {"P1": {"name": "emergency", "response": "15m", "resolution": "2h"}},
        "routes": [{"priority": "P1", "escalation": "ops"}],
        "channels": channels,
        "escalation_policies": {
            "ops": [{"after": "0m", "notify": [f"channel:{name}" for name in channels]}]
        },
    }
    return yaml.safe_dump(policy)


@pytest.fixture
def bridge(tmp_path: Path, echo: int, smtp: tuple[int, Refusing]) -> Iterator[BridgeProcess]:
    closed = free_port()
    (tmp_path / "policy.yml").write_text(policy_text(closed, echo))
    (tmp_path / "operator.token").write_text(SECRETS["operator token"] + "\n")
    (tmp_path / "smtp.pass").write_text(SECRETS["smtp password"] + "\n")
    process = BridgeProcess(
        tmp_path,
        f"sqlite:///{tmp_path / 'tocsin.db'}",
        policy=str(tmp_path / "policy.yml"),
        log_level="debug",
        secret_key=SECRETS["signing key"],
        tokens=[
            {"name": "sender", "role": "ingest", "value": SECRETS["ingest token"]},
            {"name": "alice", "role": "operator", "value_file": str(tmp_path / "operator.token")},
        ],
        smtp={
            "host": "127.0.0.1",
            "port": smtp[0],
            "from": "tocsin@example.com",
            "starttls": False,
            "username": "mailer",
            "password_file": str(tmp_path / "smtp.pass"),
        },
        notify={"retry_base": "1s", "retry_cap": "1s", "max_attempts": 2},
    )
    process.start()
    yield process
    process.stop()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def drive_api(url: str) -> list[str]:
    """Walk the API's error paths with right and wrong tokens; return every answer's text."""
    ingest, operator = SECRETS["ingest token"], SECRETS["operator token"]
    alert = [{"labels": {"alertname": "DiskFull", "instance": "web-1"}}]
    calls = [
        ("POST", "/api/v2/alerts", auth(ingest), alert),
        ("POST", "/api/v2/alerts", auth(ingest + "x"), alert),
        ("POST", "/api/v2/alerts", auth(operator), alert),
        ("GET", "/api/v1/incidents", auth(ingest), None),
        ("GET", "/api/v1/incidents", auth(operator[:-1]), None),
        ("GET", "/api/v1/incidents", {"Authorization": f"Basic {operator}"}, None),
        ("POST", "/api/v1/heartbeats", auth(ingest), {"host": "web-1", "interval_seconds": -1}),
        ("POST", "/api/v1/incidents", auth(operator), {"title": "x", "priority": "P9"}),
        ("POST", "/api/v1/incidents/1/resolve", auth(operator), {"solution": "y"}),
        ("GET", "/api/v1/incidents?cursor=abc", auth(operator), None),
        ("GET", "/api/v1/reports/sla?since=nonsense", auth(operator), None),
        ("GET", "/ack/not-a-link", {}, None),
        ("POST", "/api/v2/alerts", auth(ingest), b"{not json"),
    ]
    texts = []
    for method, path, headers, body in calls:
        kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
        response = requests.request(method, url + path, headers=headers, timeout=10, **kwargs)
        assert response.status_code < 500, (path, response.status_code, response.text)
        texts.append(response.text)
    return texts


def wait_for_failed_deliveries(url: str, timeout: float = 30.0) -> list[str]:
    """Poll the outbox until every channel has failed at least once; return the listings."""
    listings = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(url + "/api/v1/outbox", headers=auth(SECRETS["operator token"]))
        listings.append(response.text)
        entries = response.json()["entries"]
        channels = {entry.get("channel") for entry in entries if entry.get("attempts")}
        if {"mail", "ding", "ding-closed", "wecom", "wecom-closed", "hook"} <= channels:
            return listings
        time.sleep(0.3)
    raise AssertionError(f"deliveries did not all fail in {timeout}s: {listings[-1]}")


def browse(url: str) -> list[str]:
    """Sign in with a wrong token, then the right one, and read every page."""
    session = requests.Session()
    pages = []

    def login(token: str) -> None:
        form = session.get(url + "/login", timeout=10).text
        csrf = CSRF.search(form)
        assert csrf, form
        answer = session.post(
            url + "/login",
            data={"csrf_token": csrf.group(1), "token": token, "next": "/"},
            timeout=10,
        )
        pages.append(answer.text)

    login(SECRETS["operator token"] + "-wrong")
    login(SECRETS["ingest token"])
    login(SECRETS["operator token"])
    for path in ("/", "/incidents/1", "/incidents/new", "/reports", "/reports.csv", "/nope"):
        pages.append(session.get(url + path, timeout=10).text)
    return pages


def run_agent(tmp_path: Path, name: str, push: dict[str, object]) -> subprocess.Popen[str]:
    home = tmp_path / name
    home.mkdir()
    config = {
        "interval": "1s",
        "listen": None,
        "state_dir": str(home / "state"),
        "push": {**push, "resend": "1s", "timeout": "2s"},
        "heartbeat": "1s",
        "rules": [
            {
                "name": "AlwaysOn",
                "metric": "tocsin_load1",
                "op": ">=",
                "threshold": 0,
                "for": "0s",
                "severity": "critical",
            }
        ],
    }
    (home / "agent.yml").write_text(yaml.safe_dump(config))
    with (home / "agent.log").open("w") as log:
        return subprocess.Popen(
            [*AGENT, "run", "--config", str(home / "agent.yml"), "--log-level", "debug"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


AGENT_NAMES = ("refused", "unreachable", "credentials-in-url")


def agent_logs(tmp_path: Path, bridge_url: str) -> list[str]:
    """Run agents whose pushes fail (refused token, closed port) for a few seconds; their logs."""
    token_file = tmp_path / "agent.token"
    token_file.write_text(SECRETS["agent token file"] + "\n")
    agents = [
        run_agent(tmp_path, "refused", {"url": bridge_url, "token": SECRETS["agent push token"]}),
        run_agent(
            tmp_path,
            "unreachable",
            {"url": f"http://127.0.0.1:{free_port()}", "token_file": str(token_file)},
        ),
        run_agent(
            tmp_path,
            "credentials-in-url",
            {"url": f"http://push:{SECRETS['agent push token']}@127.0.0.1:{free_port()}/x?t=1"},
        ),
    ]
    refused = tmp_path / "refused" / "agent.log"
    started = time.monotonic()
    # At least a few push attempts each; on a loaded machine the refusal may take longer.
    while time.monotonic() - started < 4 or (
        "401" not in refused.read_text() and time.monotonic() - started < 60
    ):
        time.sleep(0.2)
    for process in agents:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    logs = [(tmp_path / name / "agent.log").read_text() for name in AGENT_NAMES]
    assert "401" in logs[0], logs[0][-2000:]
    return logs


def assert_no_secret(where: str, text: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in text]
    for name in leaked:
        at = text.index(SECRETS[name])
        pytest.fail(f"{name} leaked in {where}: …{text[max(0, at - 200) : at + 60]}…")


def test_no_secret_appears_in_logs_answers_outbox_or_pages(
    tmp_path: Path, bridge: BridgeProcess, smtp: tuple[int, Refusing]
) -> None:
    answers = drive_api(bridge.url)
    listings = wait_for_failed_deliveries(bridge.url)
    pages = browse(bridge.url)
    agents = agent_logs(tmp_path, bridge.url)
    bridge.stop()
    log = bridge.log_path.read_text()
    assert "DEBUG" in log and "outbox entry" in log, log[-2000:]
    assert SECRETS["smtp password"].encode() in smtp[1].passwords, "the login path never ran"
    for index, text in enumerate(answers):
        assert_no_secret(f"API answer #{index}", text)
    for text in listings:
        assert_no_secret("the outbox listing", text)
    for index, text in enumerate(pages):
        assert_no_secret(f"web page #{index}", text)
    for index, text in enumerate(agents):
        assert_no_secret(f"agent log #{index}", text)
    assert_no_secret("the bridge log", log)


@pytest.mark.parametrize(
    "command",
    [
        ["incidents", "--url", "{url}", "--token", "{token}", "list"],
        ["outbox", "list", "--url", "{url}", "--token", "{token}"],
        ["report", "sla", "--url", "{url}", "--token", "{token}"],
        ["kb", "search", "disk", "--url", "{url}", "--token", "{token}"],
    ],
    ids=lambda command: command[0],
)
def test_client_commands_never_print_credentials_of_the_url_or_token(command: list[str]) -> None:
    password, key, token = secret("urlPass"), secret("urlKey"), secret("cliTok")
    url = f"http://pager:{password}@127.0.0.1:{free_port()}/base?key={key}"
    filled = [part.format(url=url, token=token) for part in command]
    result = subprocess.run(
        [sys.executable, "-c", "from tocsin.bridge.cli import main; main()", *filled],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "127.0.0.1" in result.stderr, result.stderr
    for value in (password, key, token):
        assert value not in result.stdout + result.stderr, result.stderr
