"""The `mailin:` section of the bridge config: where mail comes in and how it is sorted.

mailin:
  max_bytes: 10MiB              a larger mail is refused (SMTP 552; IMAP: moved or flagged)
  priority: P3                  the priority when no rule names one
  team: null                    the team when no rule names one (else the policy's route)
  rules:                        for each of priority and team, the first rule that sets it wins
    - {sender_domain: [example.com], subject: "urgent|紧急|緊急", priority: P1, team: ops}
  smtp:                         listen for mail handed over by the mail server
    listen: 127.0.0.1:2525
    protocol: smtp              or lmtp
    recipients: []              addresses accepted; empty: any
    tls_cert: null              with tls_key: STARTTLS is offered (PEM files)
    tls_key: null
    require_tls: false          true: no mail before STARTTLS
  imap:                         poll a mailbox over TLS
    host: imap.example.com
    port: 993
    security: imaps             or starttls (port 143)
    ca_file: null               CA certificates to verify the server by; null: the system's
    username: …
    password_file: …            or password_env, or password
    folder: INBOX
    refused_folder: null        a refused mail is moved there; null: flagged $TocsinRefused
    interval: 1m
    timeout: 30s
    batch: 50                   mails handled per poll at most
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tocsin.bridge.platform.values import (
    choice,
    flag,
    host_port,
    optional_text,
    password,
    path_value,
    port,
    seconds,
    size,
    split_host_port,
    text,
)
from tocsin.bridge.platform.where import Where, as_list, as_mapping
from tocsin.common.yamlsource import shown

KEYS = ("max_bytes", "priority", "team", "rules", "smtp", "imap")
RULE_KEYS = ("sender_domain", "subject", "priority", "team")
SMTP_KEYS = ("listen", "protocol", "recipients", "tls_cert", "tls_key", "require_tls")
IMAP_KEYS = (
    "host",
    "port",
    "security",
    "ca_file",
    "username",
    "password",
    "password_file",
    "password_env",
    "folder",
    "refused_folder",
    "interval",
    "timeout",
    "batch",
)
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class MailRule:
    """Mail from these domains, or whose subject matches, gets this priority and/or team."""

    sender_domains: tuple[str, ...] = ()
    subject: re.Pattern[str] | None = None
    priority: str | None = None
    team: str | None = None
    place: str = ""  # 'file:line', for a check against the policy


@dataclass(frozen=True)
class SmtpListen:
    """An SMTP or LMTP listener the mail server hands mail to."""

    listen: str
    protocol: str = "smtp"
    recipients: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False

    @property
    def host(self) -> str:
        """Return the host part of `listen`."""
        return split_host_port(self.listen)[0]

    @property
    def port(self) -> int:
        """Return the port part of `listen`."""
        return split_host_port(self.listen)[1]


@dataclass(frozen=True)
class ImapSource:
    """A mailbox polled over TLS; the password is held, never printed."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int = 993
    security: str = "imaps"
    ca_file: Path | None = None
    folder: str = "INBOX"
    refused_folder: str | None = None
    interval: float = 60.0
    timeout: float = 30.0
    batch: int = 50


@dataclass(frozen=True)
class MailinSettings:
    """How mail becomes incidents: limits, sorting rules, and the ways in."""

    max_bytes: int = DEFAULT_MAX_BYTES
    priority: str = "P3"
    team: str | None = None
    rules: tuple[MailRule, ...] = ()
    smtp: SmtpListen | None = None
    imap: ImapSource | None = None
    place: str = ""  # 'file:line' of `priority` (else of `mailin`), for a check against the policy


def parse_mailin(
    raw: Any, where: Where, base: Path, env: Mapping[str, str]
) -> MailinSettings | None:
    """Validate the `mailin:` mapping; absent means no mail comes in."""
    if raw is None:
        return None
    raw = as_mapping(raw, where, KEYS)
    if raw.get("smtp") is None and raw.get("imap") is None:
        raise where.error("give smtp, imap or both: without one no mail comes in")
    rules_at = where.key(raw, "rules")
    return MailinSettings(
        max_bytes=size(raw.get("max_bytes", DEFAULT_MAX_BYTES), where.key(raw, "max_bytes")),
        priority=text(raw.get("priority", "P3"), where.key(raw, "priority")),
        team=optional_text(raw.get("team"), where.key(raw, "team")),
        rules=tuple(
            _rule(item, rules_at.key(raw["rules"], index))
            for index, item in enumerate(as_list(raw.get("rules"), rules_at))
        ),
        smtp=_smtp(raw.get("smtp"), where.key(raw, "smtp"), base),
        imap=_imap(raw.get("imap"), where.key(raw, "imap"), base, env),
        place=where.key(raw, "priority").place,
    )


def _rule(raw: Any, where: Where) -> MailRule:
    raw = as_mapping(raw, where, RULE_KEYS)
    if raw.get("sender_domain") is None and raw.get("subject") is None:
        raise where.error("a rule needs sender_domain, subject or both to match anything")
    if raw.get("priority") is None and raw.get("team") is None:
        raise where.error("a rule needs priority, team or both to do anything")
    domains = raw.get("sender_domain")
    domains = [domains] if isinstance(domains, str) else as_list(domains, where)
    subject = optional_text(raw.get("subject"), where.key(raw, "subject"))
    pattern = None
    if subject is not None:
        try:
            pattern = re.compile(subject, re.IGNORECASE)
        except re.error as exc:
            raise where.key(raw, "subject").error(
                f"{shown(subject)} is not a regular expression: {exc}"
            ) from exc
    return MailRule(
        sender_domains=tuple(
            text(domain, where.key(raw, "sender_domain")).lower().lstrip("@") for domain in domains
        ),
        subject=pattern,
        priority=optional_text(raw.get("priority"), where.key(raw, "priority")),
        team=optional_text(raw.get("team"), where.key(raw, "team")),
        place=where.place,
    )


def _smtp(raw: Any, where: Where, base: Path) -> SmtpListen | None:
    if raw is None:
        return None
    raw = as_mapping(raw, where, SMTP_KEYS)
    recipients = as_list(raw.get("recipients"), where.key(raw, "recipients"))
    cert = _readable(raw, "tls_cert", where, base)
    key = _readable(raw, "tls_key", where, base)
    if (cert is None) != (key is None):
        raise where.error("give tls_cert and tls_key together, or neither")
    require_tls = flag(raw.get("require_tls", False), where.key(raw, "require_tls"))
    if require_tls and cert is None:
        raise where.key(raw, "require_tls").error("needs tls_cert and tls_key to offer STARTTLS")
    return SmtpListen(
        listen=host_port(raw.get("listen"), where.key(raw, "listen"), "127.0.0.1:2525"),
        protocol=choice(raw.get("protocol", "smtp"), where.key(raw, "protocol"), ("smtp", "lmtp")),
        recipients=tuple(text(item, where.key(raw, "recipients")).lower() for item in recipients),
        tls_cert=cert,
        tls_key=key,
        require_tls=require_tls,
    )


def _readable(raw: Mapping[str, Any], key: str, where: Where, base: Path) -> Path | None:
    path = path_value(raw.get(key), base)
    if path is not None and not path.is_file():
        raise where.key(raw, key).error(f"{shown(str(path))} is not a readable file")
    return path


def _imap(raw: Any, where: Where, base: Path, env: Mapping[str, str]) -> ImapSource | None:
    if raw is None:
        return None
    raw = as_mapping(raw, where, IMAP_KEYS)
    security = choice(
        raw.get("security", "imaps"), where.key(raw, "security"), ("imaps", "starttls")
    )
    secret = password(raw, where, base, env)
    if secret is None:
        raise where.error("give password_file, password_env or password")
    ca_file = _readable(raw, "ca_file", where, base)
    batch = raw.get("batch", 50)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise where.key(raw, "batch").error(f"{shown(batch)} must be a whole number, at least 1")
    timing = {}
    for key, default in (("interval", "1m"), ("timeout", "30s")):
        timing[key] = seconds(raw.get(key, default), where.key(raw, key))
        if timing[key] <= 0:
            raise where.key(raw, key).error(f"{shown(raw.get(key))} must be longer than 0s")
    return ImapSource(
        host=text(raw.get("host"), where.key(raw, "host")),
        username=text(raw.get("username"), where.key(raw, "username")),
        password=secret,
        port=port(raw.get("port", 993 if security == "imaps" else 143), where.key(raw, "port")),
        security=security,
        ca_file=ca_file,
        folder=text(raw.get("folder", "INBOX"), where.key(raw, "folder")),
        refused_folder=optional_text(raw.get("refused_folder"), where.key(raw, "refused_folder")),
        batch=batch,
        **timing,
    )
