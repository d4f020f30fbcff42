"""Render a Message in each channel's markup: plain text, one log line, Markdown, HTML, Slack mrkdwn.

Every renderer reads the message through Message.headline and Message.fields(), which pass
all alert text through the sanitiser (one line, no control characters, only http(s) links);
each then escapes what its own format reserves (see tocsin.bridge.notify.sanitize).
"""

from __future__ import annotations

from tocsin.bridge.notify import sanitize
from tocsin.bridge.notify.message import Message


def as_text(message: Message) -> str:
    """Return the page as plain text, links written out in full (mail text part, robots' text)."""
    lines = [message.headline, ""]
    for item in message.fields():
        shown = item.text
        if item.url and item.url != item.text:
            shown = f"{item.text} <{item.url}>"
        lines.append(f"{item.label}: {shown}")
    return "\n".join(lines)


def as_line(message: Message) -> str:
    """Return the page on one line, fields separated by ' | ' (the log channel)."""
    parts = [message.headline]
    for item in message.fields():
        shown = f"{item.text} <{item.url}>" if item.url and item.url != item.text else item.text
        parts.append(f"{item.label}: {shown}")
    return " | ".join(parts)


def as_markdown(message: Message, *, line_break: str = "\n") -> str:
    """Return the page as chat Markdown (WeCom uses single newlines, DingTalk needs blank lines)."""
    lines = [f"### {sanitize.markdown(message.headline)}"]
    for item in message.fields():
        text = sanitize.markdown(item.text)
        shown = f"[{text}]({item.url})" if item.url else text
        lines.append(f"**{sanitize.markdown(item.label)}:** {shown}")
    return line_break.join(lines)


def as_html(message: Message) -> str:
    """Return the page as a small HTML document for the mail's HTML part."""
    rows = []
    for item in message.fields():
        text = sanitize.html(item.text)
        cell = f'<a href="{sanitize.html(item.url)}">{text}</a>' if item.url else text
        rows.append(
            f'<tr><th align="left" valign="top">{sanitize.html(item.label)}</th><td>{cell}</td></tr>'
        )
    title = sanitize.html(message.headline)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body>"
        f"<h2>{title}</h2><table>{''.join(rows)}</table></body></html>"
    )


def as_slack_mrkdwn(message: Message) -> str:
    """Return the page body as Slack mrkdwn, one labelled line per field."""
    lines = []
    for item in message.fields():
        text = sanitize.slack(item.text)
        shown = f"<{sanitize.slack(item.url)}|{text}>" if item.url else text
        lines.append(f"*{sanitize.slack(item.label)}:* {shown}")
    return "\n".join(lines)


def truncate_utf8(text: str, limit: int, marker: str = "…") -> str:
    """Cut a text to at most `limit` UTF-8 bytes without splitting a character (WeCom counts bytes)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    room = limit - len(marker.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + marker
