"""Both halves of mail meet: a report by mail gets its receipt, and a reply to it becomes a note.

The threading contract: the bridge's mails carry [#ID] in the Subject and Message-IDs
<tocsin.ID.KIND.RANDOM@DOMAIN>; the inbound gateway files a reply under them. The reporter's
own words are never mailed back, and the bridge's mails coming back in open nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.bridge.mailin.conftest import SETTINGS
from tests.bridge.mailin.mails import SENDER, mail, reply_to
from tests.bridge.notify.reporter_bridge import MESSAGE_ID, Bridge, reporter_bridge, text_of
from tocsin.bridge.incidents.serialize import timeline_json
from tocsin.bridge.mailin.gateway import Gateway, MailMetrics


@pytest.fixture
def bridge(sqlite_url: str, tmp_path: Path) -> Iterator[Bridge]:
    with reporter_bridge(sqlite_url, tmp_path) as built:
        yield built


def gateway(bridge: Bridge) -> Gateway:
    return Gateway(SETTINGS, lambda: bridge.runtime.incidents, MailMetrics(CollectorRegistry()))


def test_a_reply_to_the_receipt_is_a_note_and_is_not_mailed_back(bridge: Bridge) -> None:
    inbound = gateway(bridge)
    opened = inbound.take(mail("Payroll server is down"), envelope_sender=SENDER,
                          transport="smtp")  # fmt: skip
    (receipt,) = bridge.deliver()
    assert receipt["To"] == SENDER and f"[#{opened.incident_id}]" in receipt["Subject"]
    found = MESSAGE_ID.match(receipt["Message-ID"])
    assert found is not None and found.group(1) == str(opened.incident_id)
    noted = inbound.take(reply_to(receipt["Message-ID"], "It works again, thanks."),
                         envelope_sender=SENDER, transport="smtp")  # fmt: skip
    assert (noted.action, noted.incident_id) == ("noted", opened.incident_id)
    assert bridge.deliver() == []  # the reporter's own words are not mailed back
    bridge.runtime.incidents.act(opened.incident_id, "notes", actor="sam",
                                 text="Glad to hear it; we will close it.", public=True)  # fmt: skip
    (update,) = bridge.deliver()
    assert "Glad to hear it" in text_of(update) and "It works again" not in text_of(update)
    with bridge.runtime.store.connect() as conn:
        kinds = [e["kind"] for e in timeline_json(conn, opened.incident_id)]
    assert kinds.count("incident.note_added") == 2


def test_the_bridges_own_mail_coming_back_opens_nothing(bridge: Bridge) -> None:
    inbound = gateway(bridge)
    inbound.take(mail("Printer jams"), envelope_sender=SENDER, transport="smtp")
    (receipt,) = bridge.deliver()
    echoed = inbound.take(receipt.as_bytes(), envelope_sender="desk@corp.example",
                          transport="smtp")  # fmt: skip
    assert echoed.action == "ignored"
