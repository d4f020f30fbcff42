"""POST JSON to a receiver with a timeout, an Idempotency-Key, and errors that reveal no secret."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

import requests
import urllib3

from tocsin.bridge.errors import DeliveryFailed, DeliveryRefused
from tocsin.bridge.notify.channels.keepalive import Link
from tocsin.bridge.notify.redact import safe_url, scrub, secret_parts
from tocsin.bridge.platform import jsontext
from tocsin.bridge.platform.clock import utcnow

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "tocsin-bridge"
# 4xx answers that mean "not now" rather than "never": timeout, conflict, too early, too many.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})

# urllib3 logs each request line at DEBUG, query string and all: the WeCom and DingTalk keys.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)


@dataclass(frozen=True)
class Reply:
    """A receiver's answer: status, headers (case-insensitive) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        """Return the body as text (UTF-8, undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """Return the body's JSON value; ValueError if it is not JSON."""
        return jsontext.loads(self.content)


def retry_after(response: Reply) -> float | None:
    """Return the seconds a 429/503 asks us to wait, from Retry-After (seconds or a date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())


class _Route(NamedTuple):
    """How a URL is reached: prepared, its proxies, the request target (its path, or the whole
    URL through an HTTP proxy), the session's adapter holding the connection pools, and, when
    no proxy applies, the link that posts straight on the pool's kept-alive connections."""

    request: requests.PreparedRequest
    proxies: dict[str, str]
    target: str
    adapter: requests.adapters.HTTPAdapter
    link: Link | None


class JsonPoster:
    """Posts JSON for one channel; every failure becomes a DeliveryFailed with the URL redacted.

    The session says how to reach the receiver (its adapter's keep-alive pool, proxies, TLS
    verification). Without a proxy the request goes out on that pool's connections through a
    Link (keepalive.py: one sendall, the reply parsed in C); through a proxy it goes to the
    urllib3 pool for it. requests' own layers (merging settings, cookies, hooks, its Response)
    cost about 250 us of CPU a post, http.client's reply parsing 200 more: in a paging storm
    each was a fifth of the bridge's CPU per page. Redirects are not followed.
    """

    def __init__(
        self,
        channel: str,
        url: str,
        *,
        secrets: Iterable[str] = (),
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.channel = channel
        self.url = url
        self.secrets = [*secret_parts(url), *secrets]
        self.session = session or requests.Session()
        self.timeout = timeout
        self._route: _Route | None = None
        self._links: dict[tuple[str, str], Link] = {}  # by scheme and host:port

    def fail(
        self,
        reason: str,
        retry: float | None = None,
        *,
        permanent: bool = False,
        status: int | None = None,
    ) -> DeliveryFailed:
        """Return the error for a failed post, secrets scrubbed; permanent ones are not retried."""
        text = scrub(f"{self.channel}: {safe_url(self.url)}: {reason}", self.secrets)
        if permanent:
            return DeliveryRefused(text, status)
        return DeliveryFailed(text, retry_after=retry)

    def post(self, body: Mapping[str, Any], *, key: str, url: str | None = None) -> Reply:
        """POST the body; return the reply if 2xx, else raise DeliveryFailed."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": key,
            "User-Agent": USER_AGENT,
        }
        # Raw UTF-8 rather than \u escapes: Chinese stays readable and within byte limits.
        data = jsontext.dump_bytes(body)
        try:
            response = self._send(url or self.url, data, headers)
        except urllib3.exceptions.NewConnectionError as exc:
            raise self.fail(f"cannot connect ({type(exc).__name__})") from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise self.fail(f"no answer in {self.timeout:g}s") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.fail(f"cannot connect ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise self.fail(f"request failed: {exc}") from exc
        status = response.status_code
        if not 200 <= status < 300:
            excerpt = response.text[:200].strip()
            raise self.fail(
                f"HTTP {status}" + (f": {excerpt}" if excerpt else ""),
                retry_after(response) if status in (429, 503) else None,
                permanent=400 <= status < 500 and status not in RETRYABLE_4XX,
                status=status,
            )
        return response

    def _send(self, url: str, data: bytes, headers: Mapping[str, str]) -> Reply:
        """Send one POST on the URL's link, or through the session adapter's pool for its proxy."""
        route = self._route_to(url)
        if route.link is not None:
            status, reply_headers, body = route.link.post(route.target, data, headers, self.timeout)
            return Reply(status, reply_headers, body)
        answer = self._pool(route).urlopen(
            "POST",
            route.target,
            body=data,
            headers=headers,
            redirect=False,
            assert_same_host=False,
            retries=False,
            timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
            preload_content=True,
            decode_content=True,
        )
        return Reply(answer.status, answer.headers, answer.data)

    def _pool(self, route: _Route) -> urllib3.HTTPConnectionPool:
        """Return the session adapter's pool for a route (its proxy's, if one applies)."""
        session = self.session
        pool = route.adapter.get_connection_with_tls_context(
            route.request, session.verify, route.proxies, session.cert
        )
        return cast(urllib3.HTTPConnectionPool, pool)

    def _route_to(self, url: str) -> _Route:
        """Return how to reach a URL; the channel's own URL and its origin are worked out once."""
        if url == self.url and self._route is not None:
            return self._route
        request = requests.PreparedRequest()
        request.prepare(method="POST", url=url)
        session = self.session
        proxies = requests.utils.resolve_proxies(request, dict(session.proxies), session.trust_env)
        adapter = session.get_adapter(url)
        if not isinstance(adapter, requests.adapters.HTTPAdapter):
            raise requests.RequestException(f"no HTTP adapter for {safe_url(url)}")
        target = adapter.request_url(request, proxies)
        route = _Route(request, proxies, target, adapter, None)
        if requests.utils.select_proxy(url, proxies) is None:
            route = route._replace(link=self._link(route))
        if url == self.url:
            self._route = route
        return route

    def _link(self, route: _Route) -> Link:
        """Return the link to a route's origin; signed URLs of one channel share their origin's."""
        origin = urlsplit(route.request.url or "")[:2]
        link = self._links.get(origin)
        if link is None:
            link = self._links[origin] = Link(self._pool(route))
        return link

    def reply(self, response: Reply) -> Mapping[str, Any]:
        """Return the receiver's JSON reply; a 200 that is not JSON is a failure for robots."""
        try:
            data = response.json()
        except ValueError as exc:
            raise self.fail(f"reply is not JSON: {response.text[:200]!r}") from exc
        if not isinstance(data, Mapping):
            raise self.fail(f"reply is not a JSON object: {response.text[:200]!r}")
        return data

    def require_code(self, response: Reply, *names: str) -> None:
        """Raise unless the reply's first present code field (errcode, code, StatusCode) is 0."""
        data = self.reply(response)
        for name in names:
            if name in data:
                if data[name] == 0:
                    return
                message = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
                raise self.fail(f"refused with {name} {data[name]}: {message}")
        raise self.fail(f"reply has none of {', '.join(names)}: {response.text[:200]!r}")
