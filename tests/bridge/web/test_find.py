"""Finding anything: the incidents view with its filters and pages, and the knowledge base."""

from __future__ import annotations

from tests.bridge.testclient import TestClient
from tocsin.bridge.runtime import Runtime


def resolved(runtime: Runtime, title: str, cause: str, solution: str, **fields: object) -> int:
    incident = runtime.incidents.create(title=title, priority="P2", actor=None, **fields)
    runtime.incidents.act(incident, "resolve", actor="ann", root_cause=cause, solution=solution)
    return incident


def test_resolved_incidents_are_listed_by_status(client: TestClient, runtime: Runtime) -> None:
    done = resolved(runtime, "Disk full on db-1", "WAL filled the disk", "Archived WAL")
    still = runtime.incidents.create(title="VPN down", priority="P1", actor=None)
    html = client.get("/incidents?status=resolved").text
    assert f'data-id="{done}"' in html and f'data-id="{still}"' not in html


def test_the_board_sends_finished_statuses_to_the_incidents_view(client: TestClient) -> None:
    response = client.get("/?status=resolved&priority=P2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/incidents?status=resolved&priority=P2"


def test_filters_by_team_service_host_and_words(client: TestClient, runtime: Runtime) -> None:
    wanted = resolved(
        runtime,
        "Payments slow",
        "Pool exhausted",
        "Raised the pool",
        team="pay",
        service="tills",
        host="pos-7",
    )
    other = resolved(runtime, "Payments slow", "Pool exhausted", "Raised it", team="ops")
    for query in ("team=pay", "service=tills", "host=pos-7", "q=POOL+raised"):
        html = client.get(f"/incidents?{query}").text
        assert f'data-id="{wanted}"' in html, query
        assert (f'data-id="{other}"' in html) == query.startswith("q="), query


def test_text_search_treats_wildcards_as_text(client: TestClient, runtime: Runtime) -> None:
    runtime.incidents.create(title="Disk 100% full", priority="P2", actor=None)
    plain = runtime.incidents.create(title="Disk 1000 full", priority="P2", actor=None)
    assert f'data-id="{plain}"' not in client.get("/incidents?q=100%25").text


def test_the_incidents_view_pages_newest_first(client: TestClient, runtime: Runtime) -> None:
    ids = [runtime.incidents.create(title=f"n{i}", priority="P3", actor=None) for i in range(52)]
    first = client.get("/incidents").text
    assert f'data-id="{ids[-1]}"' in first and f'data-id="{ids[1]}"' not in first
    assert 'rel="next" href="/incidents?page=2"' in first
    second = client.get("/incidents?page=2").text
    assert f'data-id="{ids[1]}"' in second and f'data-id="{ids[-1]}"' not in second
    assert 'rel="next"' not in second and 'rel="prev"' in second


def test_nonsense_filters_are_ignored_not_errors(client: TestClient) -> None:
    assert client.get("/incidents?status=bogus&priority=P9&page=x&q=%00").status_code == 200


def test_the_knowledge_base_finds_english_and_chinese(client: TestClient, runtime: Runtime) -> None:
    disk = resolved(runtime, "数据库磁盘已满", "归档日志占满磁盘", "清理归档日志")
    wal = resolved(runtime, "Disk full on db-1", "WAL filled the disk", "Archived WAL")
    chinese = client.get("/kb?q=磁盘已满").text
    assert f'href="/incidents/{disk}"' in chinese
    english = client.get("/kb?q=wal+disk").text
    assert f'href="/incidents/{wal}"' in english and "Archived WAL" in english


def test_the_knowledge_base_page_speaks_chinese(client: TestClient) -> None:
    html = client.get("/kb", headers={"Accept-Language": "zh-CN"}).text
    assert "知识库" in html


def test_similar_incidents_link_to_them(client: TestClient, runtime: Runtime) -> None:
    past = resolved(runtime, "Disk full on db-1", "WAL filled the disk", "Archived WAL")
    fresh = runtime.incidents.create(title="Disk full on db-1", priority="P2", actor=None)
    assert f'href="/incidents/{past}"' in client.get(f"/incidents/{fresh}").text


def test_every_word_must_appear(client: TestClient, runtime: Runtime) -> None:
    both = resolved(runtime, "Payments slow", "Pool exhausted", "Raised the pool")
    one = resolved(runtime, "Payments slow", "Pool exhausted", "Restarted")
    html = client.get("/incidents?q=pool+raised").text
    assert f'data-id="{both}"' in html and f'data-id="{one}"' not in html
