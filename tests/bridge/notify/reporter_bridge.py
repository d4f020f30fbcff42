"""A bridge whose reporters' mails reach a real SMTP server (aiosmtpd), on a fake clock."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from tests.bridge.helpers import FakeClock, config_for, make_runtime
from tests.bridge.notify.smtpserver import PASSWORD, USER, Mailbox, smtp_server
from tocsin.bridge.incidents.intake import Report
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.platform.config import BridgeConfig, Smtp
from tocsin.bridge.platform.reporter_settings import ReporterMailSettings
from tocsin.bridge.policy.load import parse_policy
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.timers.scheduler import Scheduler

POLICY = """
calendars:
  office: {timezone: Asia/Shanghai, days: [mon, tue, wed, thu, fri], hours: ["09:00-18:00"]}
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
  P2: {name: important, response: 30m, update: 2h, resolution: 24h}
  P3: {name: general, response: 9h, resolution: 48h, calendar: office}
routes:
  - {match: {team: lonely}, priority: P3}
  - {priority: P2, team: desk}
people:
  mia: {name: Mia Manager, email: mia@corp.example}
  sam: {name: Sam, email: sam@corp.example}
teams:
  desk: {members: [sam], manager: mia}
  lonely: {members: [sam]}
follow_up: {working_days: 2, calendar: office}
"""
MESSAGE_ID = re.compile(r"^<tocsin\.(\d+)\.([a-z_]+)\.[0-9a-f]{16}@([a-z.]+)>$")


@dataclass
class Bridge:
    runtime: Runtime
    mailbox: Mailbox
    clock: FakeClock
    worker: DeliveryWorker

    def report(self, **fields: object) -> int:
        values: dict[str, object] = {"title": "Mail is slow", "reporter": "Wang Fang",
                                     "email": "wang@example.cn"} | fields  # fmt: skip
        return self.runtime.incidents.report(Report(**values), actor="desk")  # type: ignore[arg-type]

    def deliver(self) -> list[EmailMessage]:
        """Fire due timers, deliver the outbox, and return the mails received since last time."""
        seen = len(self.mailbox.messages)
        next(w for w in self.runtime.workers if isinstance(w, Scheduler)).run_once()
        for _ in range(20):
            if not self.worker.run_once():
                break
        return self.mailbox.messages[seen:]


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@contextmanager
def reporter_bridge(
    database_url: str, tmp_path: Path, settings: ReporterMailSettings | None = None
) -> Iterator[Bridge]:
    with smtp_server(tmp_path) as (mailbox, port, cafile):
        smtp = Smtp(host="127.0.0.1", port=port, username=USER, password=PASSWORD, timeout=5,
                    sender="desk@corp.example")  # fmt: skip
        config = BridgeConfig(database_url=database_url, secret_key=b"s", smtp=smtp,
                              tokens=config_for(database_url).tokens,
                              public_url="https://desk.example.com",
                              reporter_mail=settings or ReporterMailSettings())  # fmt: skip
        clock = FakeClock()
        runtime = make_runtime(database_url, clock, config=config, policy=parse_policy(POLICY))
        worker = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
        worker.tls_context = ssl.create_default_context(cafile=str(cafile))
        try:
            yield Bridge(runtime, mailbox, clock, worker)
        finally:
            runtime.store.dispose()
