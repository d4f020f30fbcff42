"""Render a Message in each channel's markup: plain text, Markdown, HTML, Slack mrkdwn."""

from __future__ import annotations

from html import escape

from tocsin.bridge.notify.message import Message


def as_text(message: Message) -> str:
    """Return the page as plain text, links written out in full (mail text part, Feishu, DingTalk)."""
    lines = [message.headline, ""]
    for item in message.fields():
        shown = item.text
        if item.url and item.url != item.text:
            shown = f"{item.text} <{item.url}>"
        lines.append(f"{item.label}: {shown}")
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    """Keep alert text from turning into markup in chat Markdown."""
    for char in "\\`*_[]<>":
        text = text.replace(char, "\\" + char)
    return text


def as_markdown(message: Message, *, line_break: str = "\n") -> str:
    """Return the page as chat Markdown (WeCom uses single newlines, DingTalk needs blank lines)."""
    lines = [f"### {_md_escape(message.headline)}"]
    for item in message.fields():
        text = _md_escape(item.text)
        shown = f"[{text}]({item.url})" if item.url else text
        lines.append(f"**{item.label}:** {shown}")
    return line_break.join(lines)


def as_html(message: Message) -> str:
    """Return the page as a small HTML document for the mail's HTML part."""
    rows = []
    for item in message.fields():
        text = escape(item.text)
        cell = f'<a href="{escape(item.url, quote=True)}">{text}</a>' if item.url else text
        rows.append(
            f'<tr><th align="left" valign="top">{escape(item.label)}</th><td>{cell}</td></tr>'
        )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{escape(message.headline)}</title></head><body>"
        f"<h2>{escape(message.headline)}</h2><table>{''.join(rows)}</table></body></html>"
    )


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_slack_mrkdwn(message: Message) -> str:
    """Return the page body as Slack mrkdwn, one labelled line per field."""
    lines = []
    for item in message.fields():
        text = slack_escape(item.text)
        shown = f"<{item.url}|{text}>" if item.url else text
        lines.append(f"*{item.label}:* {shown}")
    return "\n".join(lines)


def truncate_utf8(text: str, limit: int, marker: str = "…") -> str:
    """Cut a text to at most `limit` UTF-8 bytes without splitting a character (WeCom counts bytes)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    room = limit - len(marker.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + marker
