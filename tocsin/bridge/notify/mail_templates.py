"""The reporter's mails as templates an operator may replace: rendered to a subject and a text body.

Each kind of mail (receipt, update, resolution, follow_up) has one file per language,
`KIND.LANGUAGE.txt`, holding a `subject` and a `body` block (Jinja2, sandboxed, no escaping:
the mail is plain text). An operator's folder (reporter_mail.templates) is searched first, so
it replaces only the files it holds. Every template is rendered once with sample values when
the bridge starts, so a broken one stops the start with its file named rather than losing mail.

Whatever a template writes, the subject is one clean line carrying "[#ID]" (replies are
matched by it), and the body is text without control characters but line breaks and tabs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify.sanitize import clean

BUNDLED = Path(__file__).parent / "mail_templates"
KINDS = ("receipt", "update", "resolution", "follow_up")
LANGUAGES = ("en", "zh-CN")
SUBJECT_LIMIT = 200  # characters of the title in a subject; mail clients cut long ones anyway
# Control characters a text body must not carry: all but tab and line feed (CR is normalised).
_BODY_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
SAMPLE: Mapping[str, Any] = {
    "id": 1,
    "title": "sample",
    "priority": "P1",
    "priority_name": "emergency",
    "reporter": "sample",
    "status": "triggered",
    "response_within": "15 minutes",
    "update_every": "2 hours",
    "note": "sample",
    "solution": "sample",
    "survey_url": "https://example.com/survey/x",
    "survey_expires": "2026-01-01",
}


@dataclass(frozen=True)
class RenderedMail:
    """A reporter's mail as it goes out: one subject line and a plain-text body."""

    subject: str
    text: str


def body_text(text: str) -> str:
    """Return text for a plain-text body: CR LF as LF, no other control or bidi characters."""
    return _BODY_UNSAFE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


class MailTemplates:
    """Renders the reporter's mails from the operator's templates, else the bundled ones."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        paths = [str(folder)] if folder is not None else []
        self.environment = SandboxedEnvironment(
            loader=FileSystemLoader([*paths, str(BUNDLED)]),
            autoescape=False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def check(self) -> None:
        """Render every template with sample values; raise ConfigError naming a broken one."""
        for kind in KINDS:
            for language in LANGUAGES:
                self.render(kind, language, SAMPLE)

    def render(self, kind: str, language: str, values: Mapping[str, Any]) -> RenderedMail:
        """Return the mail of a kind in a language, filled with `values`."""
        name = f"{kind}.{language}.txt"
        try:
            template = self.environment.get_template(name)
            context = template.new_context(dict(values))
            subject = "".join(template.blocks["subject"](context))
            text = "".join(template.blocks["body"](context))
        except (TemplateError, KeyError) as exc:
            where = self.folder / name if self.folder and (self.folder / name).exists() else name
            raise ConfigError(
                f"reporter mail template {where}: {exc.__class__.__name__}: {exc}; it needs a "
                "'subject' and a 'body' block and may use only the documented values"
            ) from exc
        return RenderedMail(self._subject(subject, values), body_text(text).strip() + "\n")

    @staticmethod
    def _subject(subject: str, values: Mapping[str, Any]) -> str:
        """Return the subject on one line, always carrying [#ID] so a reply finds its incident."""
        line = clean(subject)
        tag = f"[#{values['id']}]"
        return line if tag in line else f"{tag} {line}".strip()
