"""The wire to the receiver: Alertmanager v2 postable alerts and heartbeats over HTTP.

Failures are translated here, once, into PushRejected (4xx: drop, never retry) and
PushUnavailable (5xx, 429, timeout, refused: retry later, honouring Retry-After).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from tocsin.agent.errors import PushRejected, PushUnavailable
from tocsin.agent.evaluator import AlertState
from tocsin.agent.limits import fit_pairs
from tocsin.agent.urls import redact_url

if TYPE_CHECKING:
    import requests

    from tocsin.agent.config import PushConfig
    from tocsin.agent.tls import TlsConfig

log = logging.getLogger(__name__)
USER_AGENT = "tocsin-agent/0.1"
ALERTS_PATH = "/api/v2/alerts"
HEARTBEATS_PATH = "/api/v1/heartbeats"
MAINTENANCE_PATH = "/api/v1/maintenance"
MAX_RETRY_AFTER = 3600.0
# The agent's own clock on every push, so a bridge can estimate how far it is off.
SENDER_TIME_HEADER = "X-Tocsin-Sender-Time"


def rfc3339(timestamp: float) -> str:
    """Write a Unix time as RFC 3339 UTC with milliseconds, as Alertmanager does."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class WireAlert:
    """One alert as spooled: `ends_at` None means firing, its endsAt is set when sent.

    `generator_url` is where a person sees what the alert was computed from ('' for nowhere).
    """

    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]
    starts_at: float
    ends_at: float | None = None
    generator_url: str = ""

    @classmethod
    def firing(cls, state: AlertState, generator_url: str = "") -> WireAlert:
        """Describe a firing alert, its rendered text fitted to what a bridge accepts."""
        return cls(
            fit_pairs(state.labels),
            fit_pairs(state.annotations),
            state.starts_at,
            generator_url=generator_url,
        )

    @classmethod
    def resolved(cls, state: AlertState, at: float, generator_url: str = "") -> WireAlert:
        """Describe an alert resolved at `at`, fitted as a firing one is."""
        return cls(
            fit_pairs(state.labels),
            fit_pairs(state.annotations),
            state.starts_at,
            at,
            generator_url,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the spool form."""
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "generatorURL": self.generator_url,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WireAlert:
        """Read the spool form back."""
        return cls(
            tuple(sorted(raw["labels"].items())),
            tuple(raw["annotations"].items()),
            float(raw["startsAt"]),
            None if raw["endsAt"] is None else float(raw["endsAt"]),
            # Spooled before alerts had a source: no link.
            str(raw.get("generatorURL") or ""),
        )

    def postable(self, now: float, ttl: float) -> dict[str, Any]:
        """Return the Alertmanager v2 postable alert; a firing one ends `ttl` after `now`."""
        ends_at = self.ends_at if self.ends_at is not None else now + ttl
        alert = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": rfc3339(self.starts_at),
            "endsAt": rfc3339(ends_at),
        }
        if self.generator_url:
            alert["generatorURL"] = self.generator_url
        return alert


def encode_batch(alerts: Sequence[WireAlert]) -> bytes:
    """Serialise a batch for the spool."""
    return json.dumps({"alerts": [alert.to_json() for alert in alerts]}).encode()


def decode_batch(payload: bytes) -> list[WireAlert]:
    """Read a spooled batch back."""
    return [WireAlert.from_json(raw) for raw in json.loads(payload)["alerts"]]


def retry_after(header: str | None, now: float) -> float | None:
    """Return the seconds a Retry-After header asks for (delta-seconds or HTTP date)."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return min(float(header), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return min(max(moment.timestamp() - now, 0.0), MAX_RETRY_AFTER)


def _refusal(response: requests.Response) -> tuple[str, dict[int, str]]:
    """Read why a receiver refused: a bridge's JSON `error` and `rejected[]`, or plain text."""
    text = response.text[: 1 << 20]
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:1000], {}
    if not isinstance(body, dict):
        return " ".join(text.split())[:1000], {}
    detail = str(body.get("error") or body.get("message") or text)[:1000]
    rejected: dict[int, str] = {}
    for item in body.get("rejected") or ():
        if isinstance(item, dict) and isinstance(item.get("index"), int):
            rejected[item["index"]] = f"{item.get('field', '')}: {item.get('error', '')}"[:1000]
    return detail, rejected


class Receiver:
    """HTTP client of a bridge or an Alertmanager; every call has the configured timeout.

    `auth` is HTTP basic auth (user, password); `tls` what the connection trusts and presents.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        timeout: float,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        *,
        auth: tuple[str, str] | None = None,
        tls: TlsConfig | None = None,
        name: str = "",
    ) -> None:
        self.url = url.rstrip("/")
        # Messages name the receiver without any user:password@ or query a URL may carry.
        self.display = redact_url(self.url)
        self.name = name or self.display
        self.timeout = timeout
        self._clock = clock
        # Loaded by an agent that pushes only: requests and its TLS stack weigh ~10 MiB of RSS.
        import requests

        self._session = session or requests.Session()
        if auth is not None:
            self._session.auth = auth
        # Given on every call: a per-call verify is never overridden by REQUESTS_CA_BUNDLE.
        from tocsin.agent.tls import TlsConfig

        tls = tls or TlsConfig()
        self._verify = tls.verify()
        self._cert = tls.cert()
        self._headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def for_config(cls, push: PushConfig) -> Receiver:
        """Build the client of one configured receiver: its URL, credentials and TLS."""
        return cls(
            push.url, push.token, push.timeout, auth=push.auth, tls=push.tls, name=push.label
        )

    def _post(self, path: str, body: Any) -> requests.Response:
        import requests

        target = redact_url(self.url + path)
        headers = {**self._headers, SENDER_TIME_HEADER: rfc3339(self._clock())}
        try:
            response = self._session.post(
                self.url + path,
                data=json.dumps(body),
                headers=headers,
                timeout=self.timeout,
                verify=self._verify,
                cert=self._cert,
            )
        except requests.exceptions.SSLError as exc:
            from tocsin.agent.tls import tls_failure

            raise PushUnavailable(f"{target}: {tls_failure(str(exc))}", "tls") from exc
        except requests.Timeout as exc:
            raise PushUnavailable(f"{target}: no answer in {self.timeout:g}s", "timeout") from exc
        except requests.ConnectionError as exc:
            raise PushUnavailable(f"{target}: cannot connect", "connection") from exc
        except requests.RequestException as exc:
            raise PushUnavailable(f"{target}: {type(exc).__name__}", "error") from exc
        except OSError as exc:
            # requests' own check of the client certificate files (one removed since start-up).
            raise PushUnavailable(f"{target}: {exc}", "tls") from exc
        status = response.status_code
        if status < 300:
            return response
        detail, rejected = _refusal(response)
        message = f"{target}: HTTP {status}: {detail[:200]}"
        if status >= 500 or status in (408, 429):
            wait = retry_after(response.headers.get("Retry-After"), self._clock())
            raise PushUnavailable(message, f"http_{status}", wait)
        raise PushRejected(message, status, detail, rejected)

    def post_alerts(self, alerts: Sequence[WireAlert], now: float, ttl: float) -> None:
        """Send alerts to {url}/api/v2/alerts; raise PushRejected or PushUnavailable on failure."""
        self._post(ALERTS_PATH, [alert.postable(now, ttl) for alert in alerts])

    def post_heartbeat(self, host: str, interval: float, labels: Mapping[str, str]) -> None:
        """Tell the receiver this host is alive and when to expect the next heartbeat."""
        body = {"host": host, "interval_seconds": interval, "labels": dict(labels)}
        self._post(HEARTBEATS_PATH, body)

    def open_maintenance(self, instance: str, seconds: float, reason: str) -> dict[str, Any]:
        """Ask a bridge for a maintenance window on this host; return the window it opened."""
        body = {
            "matchers": [f"instance={instance}"],
            "duration": f"{max(1, round(seconds))}s",
            "reason": reason,
            "source": "agent",
        }
        answer: dict[str, Any] = self._post(MAINTENANCE_PATH, body).json()
        return answer

    def observe(self, hook: Callable[[requests.Response], None]) -> None:
        """Call `hook` with every answer the receiver gives (its Date header tells its clock)."""
        self._session.hooks["response"].append(lambda response, *args, **kwargs: hook(response))

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()
