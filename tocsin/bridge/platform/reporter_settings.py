"""The `reporter_mail:` section of the bridge config: how the bridge writes to reporters.

reporter_mail:
  enabled: true          mail reporters who left an address (false: never)
  domain: tocsin         the right-hand side of the Message-IDs replies are threaded by
  from: null             the sender; null: smtp.from
  reply_to: null         where replies go, e.g. the service desk mailbox the bridge reads
  language: en           for reporters who chose none: en or zh-CN
  templates: null        a folder of templates replacing the bundled ones, by file name
  survey_ttl: 14d        how long a survey link stays valid
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tocsin.bridge.platform.where import Where, as_mapping
from tocsin.common.durations import parse_duration
from tocsin.common.yamlsource import shown

KEYS = ("enabled", "domain", "from", "reply_to", "language", "templates", "survey_ttl")
LANGUAGES = ("en", "zh-CN")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]\\]{1,64}@[^@\s<>,;:\"()\[\]\\]{1,253}")


@dataclass(frozen=True)
class ReporterMailSettings:
    """How reporters are mailed; the defaults mail them in English, threaded under 'tocsin'."""

    enabled: bool = True
    domain: str = "tocsin"
    sender: str | None = None
    reply_to: str | None = None
    language: str = "en"
    templates: Path | None = None
    survey_ttl: timedelta = timedelta(days=14)
    configured: bool = False  # the config has a reporter_mail section (check-config warns then)


def _address(raw: Any, where: Where) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not _ADDRESS.fullmatch(raw.strip()):
        raise where.error(f"{shown(raw)} is not one mail address such as desk@example.com")
    return raw.strip()


def parse_reporter_mail(raw: Any, where: Where, base: Path) -> ReporterMailSettings:
    """Validate the `reporter_mail:` mapping; absent means the defaults."""
    if raw is None:
        return ReporterMailSettings()
    raw = as_mapping(raw, where, KEYS)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise where.key(raw, "enabled").error(f"{shown(enabled)} is not true or false")
    domain = raw.get("domain", "tocsin")
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise where.key(raw, "domain").error(
            f"{shown(domain)} is not a mail domain such as example.com"
        )
    language = raw.get("language", "en")
    if language not in LANGUAGES:
        raise where.key(raw, "language").error(
            f"{shown(language)} is not one of {', '.join(LANGUAGES)}"
        )
    templates = raw.get("templates")
    folder = None
    if templates is not None:
        folder = Path(str(templates)).expanduser()
        folder = folder if folder.is_absolute() else base / folder
        if not folder.is_dir():
            raise where.key(raw, "templates").error(f"{shown(str(folder))} is not a folder")
    try:
        ttl = timedelta(seconds=parse_duration(raw.get("survey_ttl", "14d"), numbers=True))
    except ValueError as exc:
        raise where.key(raw, "survey_ttl").error(str(exc)) from exc
    if ttl < timedelta(hours=1):
        raise where.key(raw, "survey_ttl").error(
            f"{shown(raw.get('survey_ttl'))} must be at least 1h"
        )
    return ReporterMailSettings(
        enabled=enabled,
        domain=domain,
        sender=_address(raw.get("from"), where.key(raw, "from")),
        reply_to=_address(raw.get("reply_to"), where.key(raw, "reply_to")),
        language=str(language),
        templates=folder,
        survey_ttl=ttl,
        configured=True,
    )
