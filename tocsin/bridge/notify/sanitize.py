"""One sanitiser for every renderer: alert text is data, never headers, links or markup.

Two steps, always in this order. `clean` makes any text safe to put on one line of any
format: CR, LF and every other control or bidirectional-override character go, so a summary
cannot add a mail header, a log line or a fake field. `safe_link` lets only absolute http(s)
links through, percent-encoding what would end a link early in a format (`|`, `>`, `)`); any
other link (javascript:, data:, relative) is shown as plain text by the renderers. Then each
format escapes what it reserves: `slack`, `markdown`, `html`, and `feishu_text` for the
Feishu text message's `<at>` tags.
"""

from __future__ import annotations

import re
import unicodedata
from html import escape
from urllib.parse import quote, urlsplit

# C0/C1 controls, DEL, line and paragraph separators, and the bidi controls that reorder text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r" {2,}")
# Characters kept as they are in a link; everything else is percent-encoded (%-escapes stay).
_LINK_SAFE = ":/?#@!$&+,;=%~-._"
_MARKDOWN = re.compile(r"([\\`*_\[\]()#~|!{}])")
# An http(s) link of letters, digits and -._~/ only (a page's own incident and ack links):
# safe_link would return it unchanged, so it is taken as it is.
_PLAIN_LINK = re.compile(r"https?://[A-Za-z0-9._~-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~/-]*)?")


def clean(text: object) -> str:
    """Return the text on one line: control and bidi characters become one space."""
    plain = str(text)
    # Printable ASCII without doubled or outer spaces is already clean: most of a page's
    # labels and values, and a storm renders thousands of pages.
    if plain.isascii() and plain.isprintable() and "  " not in plain and plain == plain.strip():
        return plain
    flat = _UNSAFE.sub(" ", unicodedata.normalize("NFC", plain))
    return _SPACES.sub(" ", flat).strip()


def safe_link(url: object) -> str | None:
    """Return an absolute http(s) link, encoded so no format's link syntax can end early; else None."""
    if isinstance(url, str) and _PLAIN_LINK.fullmatch(url):
        return url
    if not isinstance(url, str) or _UNSAFE.search(url) or " " in url.strip():
        return None
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(candidate, safe=_LINK_SAFE)


def slack(text: str) -> str:
    """Escape Slack mrkdwn: &, < and > (so no <!channel>, <@user> or <url|label> is made)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown(text: str) -> str:
    """Escape chat Markdown: tags and mentions (<font>, <@user>) as entities, the rest by backslash."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def html(text: str) -> str:
    """Escape text for HTML content and double-quoted attributes."""
    return escape(text, quote=True)


def feishu_text(text: str) -> str:
    """Keep Feishu's text message from reading alert text as an <at> mention tag."""
    return text.replace("<", "‹").replace(">", "›")
