"""Every page, every error and every ack-link page in zh-CN: no message id, no English-only text.

The walk reads what a person sees (text, placeholders, labels, button titles) and fails on any
catalogue key left untranslated and on any English word that is not data the test put there
(titles, names, hosts) or a word both languages write alike (P1, UTC, Tocsin, English).
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from tests.bridge.helpers import FakeClock
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import csrf_of
from tocsin.bridge.notify.links import sign_ack
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.web.messages import CATALOGUE

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
PREFIXES = "|".join(sorted({key.split(".")[0] for key in CATALOGUE["en"]}))
KEY = re.compile(rf"\b(?:{PREFIXES})\.[a-z_]+(?:\.[a-z_]+)*\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
# Written alike in both languages: the product, units and codes, and the switch to English.
ALIKE = {
    "Tocsin",
    "UTC",
    "English",
    "SLA",
    "CSV",
    "Asia",
    "Shanghai",
    "alice",
    "desk",
    "dave",
    "carol",
}
# What the test typed, and the label syntax the report form shows as an example.
DATA = "Printer jams floor three Disk full db-1 WAL filled the disk Archived Wang Fang printer abc"
DATA += " severity critical env prod yesterday"


class Visible(HTMLParser):
    """Collect the text a person sees and the attributes read aloud or shown on hover."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        for name, value in attrs:
            if name in ("placeholder", "aria-label", "title", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return " ".join(parser.parts)


def english_words(html: str, allowed: set[str]) -> list[str]:
    return sorted({w for w in WORD.findall(visible(html)) if w not in allowed and w not in ALIKE})


def check(html: str, where: str, allowed: set[str]) -> None:
    text = visible(html)
    assert not KEY.findall(text), (where, KEY.findall(text))
    assert english_words(html, allowed) == [], (where, english_words(html, allowed))


@pytest.fixture
def zh_client(client: TestClient) -> TestClient:
    client.cookies.set("tocsin_lang", "zh-CN")
    return client


@pytest.fixture
def seeded(runtime: Runtime, clock: FakeClock) -> dict[str, int]:
    """Incidents in every state the pages show, with notes, pauses, escalations and alerts."""
    act = runtime.incidents.act
    ids = {
        "triggered": runtime.incidents.create(
            title="Printer jams on floor three",
            priority="P3",
            actor="desk",
            escalation_policy="ops",
        ),
        "paused": runtime.incidents.create(
            title="Disk full on db-1", priority="P1", actor="desk", escalation_policy="ops"
        ),
        "closed": runtime.incidents.create(title="Disk full on db-1", priority="P2", actor=None),
        "silent": runtime.incidents.create(
            title="Host db-9 is silent: no heartbeat since 2026-03-02T08:00:00Z",
            priority="P1",
            actor=None,
            source="heartbeat",
            host="db-9",
        ),
    }
    act(ids["triggered"], "contact", actor="desk", note="printer")
    act(ids["paused"], "ack", actor="alice")
    act(ids["paused"], "notes", actor="alice", text="printer")
    act(ids["paused"], "pause", actor="alice", reason="printer")
    clock.advance(600)
    act(ids["paused"], "resume", actor="alice", reason="printer")
    act(ids["paused"], "escalate", actor="alice", reason="printer")
    act(ids["paused"], "reassign", actor="alice", assignee="backup")
    act(ids["paused"], "pause", actor="alice", reason="printer")
    act(ids["closed"], "resolve", actor=None, reason="all alerts resolved")
    act(
        ids["closed"], "amend", actor="alice", root_cause="WAL filled the disk", solution="Archived"
    )
    act(ids["closed"], "reopen", actor="alice")
    act(
        ids["closed"],
        "resolve",
        actor="alice",
        root_cause="WAL filled the disk",
        solution="Archived",
    )
    act(ids["closed"], "close", actor="alice", satisfaction=4)
    clock.advance(3 * 3600)
    return ids


def allowed_words(runtime: Runtime) -> set[str]:
    names = [p.full_name for p in runtime.policy.people.values()]
    return set(
        WORD.findall(" ".join([DATA, *names, *runtime.policy.people, *runtime.policy.teams]))
    )


PAGES = [
    "/",
    "/incidents",
    "/incidents?status=resolved",
    "/incidents?q=nothing-matches-this",
    "/incidents/new",
    "/kb",
    "/kb?q=disk",
    "/kb?q=nothing-matches-this",
    "/reports",
    "/reports?since=yesterday",
    "/incidents/999999",
    "/incidents/abc",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_chinese(
    zh_client: TestClient, runtime: Runtime, seeded: dict[str, int], path: str
) -> None:
    check(zh_client.get(path).text, path, allowed_words(runtime))


@pytest.mark.parametrize("state", ["triggered", "paused", "closed", "silent"])
def test_every_incident_page_is_chinese(
    zh_client: TestClient, runtime: Runtime, seeded: dict[str, int], state: str
) -> None:
    check(zh_client.get(f"/incidents/{seeded[state]}").text, state, allowed_words(runtime))


def test_every_form_error_is_chinese(
    zh_client: TestClient, runtime: Runtime, seeded: dict[str, int]
) -> None:
    csrf = zh_client.csrf  # type: ignore[attr-defined]
    allowed = allowed_words(runtime)
    posts = [
        ("/incidents/new", {"reporter": "Wang Fang"}),
        (f"/incidents/{seeded['triggered']}/pause", {"reason": "printer"}),
        (f"/incidents/{seeded['triggered']}/reassign", {"assignee": "printer"}),
        (f"/incidents/{seeded['closed']}/close", {"satisfaction": "4"}),
        (f"/incidents/{seeded['triggered']}/note", {"note": ""}),
    ]
    for path, form in posts:
        answer = zh_client.post(path, data={"csrf_token": csrf, **form}, follow_redirects=True)
        assert "flash error" in answer.text, path
        check(answer.text, path, allowed)
    refused = zh_client.post("/incidents/new", data={"csrf_token": "forged"})
    check(refused.text, "csrf", allowed)


def test_the_login_page_is_chinese(anonymous: TestClient, runtime: Runtime) -> None:
    check(anonymous.get("/login", headers=ZH).text, "/login", allowed_words(runtime))
    form = anonymous.get("/login", headers=ZH).text
    failed = anonymous.post(
        "/login", data={"csrf_token": csrf_of(form), "token": "wrong"}, headers=ZH
    )
    check(failed.text, "login failed", allowed_words(runtime))


def test_every_ack_link_page_is_chinese(
    anonymous: TestClient, runtime: Runtime, seeded: dict[str, int], clock: FakeClock
) -> None:
    key = runtime.config.secret_key
    assert key is not None

    def link(incident: int, ttl: timedelta = timedelta(hours=1)) -> str:
        return "/ack/" + sign_ack(key, incident_id=incident, person="carol", now=clock(), ttl=ttl)

    allowed = allowed_words(runtime)
    url = link(seeded["triggered"])
    pages = {
        "confirm": anonymous.get(url, headers=ZH),
        "done": anonymous.post(url, headers=ZH),
        "reused": anonymous.post(url, headers=ZH),
        "already": anonymous.get(link(seeded["paused"]), headers=ZH),
        "invalid": anonymous.get("/ack/not-a-link", headers=ZH),
        "tampered": anonymous.get(url[:-3] + "abc", headers=ZH),
        "gone": anonymous.get(link(999_999), headers=ZH),
    }
    expiring = link(seeded["paused"], ttl=timedelta(seconds=1))
    clock.advance(5)
    pages["expired"] = anonymous.get(expiring, headers=ZH)
    for name, answer in pages.items():
        assert '<html lang="zh-CN">' in answer.text, name
        check(answer.text, name, allowed)


def test_a_silent_hosts_title_is_said_in_chinese(
    zh_client: TestClient, seeded: dict[str, int]
) -> None:
    assert "主机 db-9 已静默：自 2026-03-02T08:00:00Z 起未收到心跳" in zh_client.get("/").text
