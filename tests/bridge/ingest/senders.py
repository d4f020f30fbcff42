"""Senders for the episode tests: one alert message through either route, with a chosen clock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from tests.bridge.helpers import INGEST, FakeClock, bearer, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.ingest.identity import fingerprint
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.schema import alerts, incidents

ROUTES = ("v2", "webhook")
PATHS = {"v2": "/api/v2/alerts", "webhook": "/api/v1/alertmanager"}
TTL = timedelta(minutes=4)  # a firing v2 alert's endsAt lies this far ahead, as Prometheus sends


def rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Message:
    """One alert as a sender means it: firing from `starts`, or resolved at `ends`."""

    labels: dict[str, str]
    starts: datetime
    ends: datetime | None = None  # set: resolved at this time

    def v2(self, sender_now: datetime) -> dict[str, object]:
        """The v2 postable alert: a firing one carries endsAt = the sender's now + TTL."""
        ends = self.ends or sender_now + TTL
        return {"labels": self.labels, "startsAt": rfc3339(self.starts), "endsAt": rfc3339(ends)}

    def webhook(self) -> dict[str, object]:
        """The webhook alert: status says it; a firing one has Go's zero endsAt."""
        return {
            "status": "resolved" if self.ends else "firing",
            "labels": self.labels,
            "startsAt": rfc3339(self.starts),
            "endsAt": rfc3339(self.ends) if self.ends else "0001-01-01T00:00:00Z",
            "fingerprint": "ignored",
        }


@dataclass
class Bridge:
    """A bridge on a test client, its runtime, and a fake clock."""

    client: TestClient
    runtime: Runtime
    clock: FakeClock

    def send(
        self,
        route: str,
        messages: Sequence[Message],
        skew: timedelta = timedelta(0),
        clue: str | None = "header",
    ) -> dict[str, object]:
        """POST messages in one request from a sender whose clock is `skew` off the bridge's."""
        sender_now = self.clock() + skew
        headers = bearer(INGEST)
        if clue == "header":
            headers["X-Tocsin-Sender-Time"] = rfc3339(sender_now)
        elif clue == "date":
            headers["Date"] = sender_now.strftime("%a, %d %b %Y %H:%M:%S GMT")
        if route == "v2":
            body: object = [m.v2(sender_now) for m in messages]
        else:
            resolved = all(m.ends for m in messages)
            status = "resolved" if resolved else "firing"
            body = {"version": "4", "status": status, "alerts": [m.webhook() for m in messages]}
        response = self.client.post(PATHS[route], json=body, headers=headers)
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result

    def state(self, labels: dict[str, str]) -> tuple[str, datetime, str] | None:
        """Return the newest stored occurrence: (alert status, startsAt, incident status)."""
        query = (
            select(alerts.c.status, alerts.c.starts_at, incidents.c.status)
            .join(incidents, incidents.c.id == alerts.c.incident_id)
            .where(alerts.c.fingerprint == fingerprint(labels))
            .order_by(alerts.c.id.desc())
            .limit(1)
        )
        with self.runtime.store.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        status, starts, incident = row
        return status, as_utc(starts), incident

    def open_incidents(self, labels: dict[str, str]) -> int:
        """Return how many unresolved incidents hold the alert."""
        query = (
            select(incidents.c.id)
            .join(alerts, incidents.c.id == alerts.c.incident_id)
            .where(
                alerts.c.fingerprint == fingerprint(labels),
                incidents.c.status.in_(("triggered", "acknowledged")),
            )
        )
        with self.runtime.store.connect() as conn:
            return len(conn.execute(query).all())


@contextmanager
def bridge_on(database_url: str, **limits: object) -> Iterator[Bridge]:
    """Start a bridge with a fake clock on a freshly migrated database."""
    clock = FakeClock()
    runtime = make_runtime(database_url, clock, **limits)
    with TestClient(create_app(runtime)) as client:
        yield Bridge(client, runtime, clock)
