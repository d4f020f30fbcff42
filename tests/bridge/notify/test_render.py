from __future__ import annotations

from tests.bridge.notify.sample import NOW, incident_json, message
from tocsin.bridge.notify.message import build_message
from tocsin.bridge.notify.render import as_html, as_markdown, as_text, truncate_utf8


def test_truncate_utf8_never_splits_a_character() -> None:
    cut = truncate_utf8("磁盘" * 100, 50)
    assert len(cut.encode("utf-8")) <= 50 and cut.endswith("…")
    assert cut.encode("utf-8").decode("utf-8") == cut


def test_text_writes_links_out_and_keeps_chinese() -> None:
    text = as_text(message())
    assert "Acknowledge: acknowledge in one click <https://oncall.example.com/ack/TOKEN>" in text
    assert "Summary: /var 使用率 97%" in text


def test_markdown_escapes_alert_text_so_it_cannot_inject_links() -> None:
    page = build_message(
        incident_json(title="x [click](http://evil) *"), event="incident.triggered", now=NOW
    )
    assert "\\[click\\]\\(http://evil\\) \\*" in as_markdown(page)


def test_html_escapes_alert_text() -> None:
    page = build_message(incident_json(title="<script>"), event="incident.triggered", now=NOW)
    assert "<script>" not in as_html(page) and "&lt;script&gt;" in as_html(page)
