"""Decode mail text strictly: Chinese charsets by their supersets, anything undecodable refused.

Mail clients label GBK text "gb2312" and Big5-HKSCS text "big5"; each label is read by the
codec that covers what such senders really write. A byte the charset cannot read refuses the
mail (MailRefused), never a silent replacement character in an incident.
"""

from __future__ import annotations

import codecs
import re
from email.errors import HeaderParseError
from email.header import decode_header
from html.parser import HTMLParser

from tocsin.bridge.errors import MailRefused

# A label, lower case, to the codecs tried in turn (the first that reads every byte wins).
SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "x-gbk": ("gb18030",),
    "cp936": ("gb18030",),
    "euc-cn": ("gb18030",),
    "gb18030": ("gb18030",),
    "big5": ("big5hkscs", "cp950"),
    "x-big5": ("big5hkscs", "cp950"),
    "big5-hkscs": ("big5hkscs", "cp950"),
    "cp950": ("cp950", "big5hkscs"),
    "us-ascii": ("ascii", "utf-8"),  # an unlabelled 8-bit body is most often UTF-8
    "ascii": ("ascii", "utf-8"),
    "unknown-8bit": ("utf-8",),
}


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LABEL = re.compile(r"[a-z0-9._:+-]{1,40}")


def codecs_for(label: str | None) -> tuple[str, ...]:
    """Return the codecs to try for a charset label; refuse a label no codec knows."""
    name = (label or "us-ascii").strip().strip('"').lower()
    if name in SUPERSETS:
        return SUPERSETS[name]
    if not _LABEL.fullmatch(name):
        raise MailRefused("a charset label that is no charset name", "charset")
    try:
        return (codecs.lookup(name).name,)
    except LookupError as exc:
        raise MailRefused(f"unknown charset {name!r}", "charset") from exc


def decode_bytes(data: bytes, label: str | None) -> str:
    """Return the text of `data` in its labelled charset, or refuse the mail."""
    for codec in codecs_for(label):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise MailRefused(f"text is not valid {(label or 'us-ascii')[:40]}", "charset")


def decode_header_value(raw: str | None, hint: str | None = None) -> str:
    """Return a header's text: encoded words decoded strictly, raw 8-bit read as UTF-8.

    Raw 8-bit bytes that are not UTF-8 are read in `hint`, the charset the mail's text
    declares: clients that write GBK headers unencoded write their body in GBK too.
    """
    if not raw:
        return ""
    parts = []
    try:
        chunks = decode_header(str(raw))
    except (ValueError, HeaderParseError) as exc:  # a malformed encoded word
        raise MailRefused("a header's encoded text is malformed", "malformed") from exc
    for chunk, label in chunks:
        if isinstance(chunk, str):
            # 8-bit header bytes come through the parser as surrogate escapes: back to bytes.
            parts.append(_raw_header_text(chunk.encode("utf-8", "surrogateescape"), hint))
        else:
            parts.append(decode_bytes(chunk, label))
    return re.sub(r"\s+", " ", _CONTROLS.sub("", "".join(parts))).strip()


def _raw_header_text(data: bytes, hint: str | None) -> str:
    try:
        return decode_bytes(data, "utf-8")
    except MailRefused:
        if hint is None:
            raise
        return decode_bytes(data, hint)


_BLOCKS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "ul", "ol", "blockquote", "pre", "hr", "section", "article",
}  # fmt: skip
_HIDDEN = {"script", "style", "head", "title", "template", "noscript"}


class _TextOnly(HTMLParser):
    """Keep only character data: tags, attributes, scripts and styles are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.pieces.append("\n")
        if tag == "li":
            self.pieces.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS and tag != "li":  # the next item's start breaks the line
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    """Return what a reader sees of an HTML body, as plain text without any markup."""
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.pieces))


def tidy(text: str) -> str:
    """Return text with runs of spaces and of blank lines folded, lines right-trimmed."""
    text = _CONTROLS.sub("", text)  # NUL and the like: no database or page takes them
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Where a reply's quoted original starts: Outlook, Gmail/Thunderbird and Chinese clients.
_QUOTE_STARTS = re.compile(
    r"^(-{2,}\s*(Original Message|原始邮件|原始郵件)\s*-{2,}"
    r"|On .{1,200} wrote:"
    r"|在.{1,200}写道[:：]"
    r"|From: .+|发件人[:：].+|寄件者[:：].+)\s*$",
    re.IGNORECASE,
)


def reply_text(text: str) -> str:
    """Return a reply's own words: the quoted original (and '>' lines) cut off, if any remain."""
    own: list[str] = []
    for line in text.splitlines():
        if _QUOTE_STARTS.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            own.append(line)
    cut = tidy("\n".join(own))
    return cut or text
