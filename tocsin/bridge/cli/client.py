"""A small client for the bridge's API, used by `tocsin-bridge incidents …` and the tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from tocsin.bridge.errors import (
    AuthError,
    BridgeError,
    ClientError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from tocsin.bridge.platform.clock import rfc3339

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 10.0
_BY_STATUS: dict[int, type[BridgeError]] = {
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    400: InvalidInput,
    422: InvalidInput,
}


class BridgeClient:
    """Talk to one bridge with one token; every call has a timeout."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.shown = shown_url(self.url)
        self.timeout = timeout
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def list_incidents(
        self,
        *,
        status: list[str] | None = None,
        priority: list[str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Return one page of incidents, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        if priority:
            params["priority"] = priority
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/api/v1/incidents", params=params)

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        """Return one incident with alerts and timeline."""
        return self._call("GET", f"/api/v1/incidents/{incident_id}")

    def create_incident(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register an incident by hand."""
        return self._call("POST", "/api/v1/incidents", json=body)

    def act(
        self, incident_id: int, action: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Apply an action (ack, resolve, notes, …) and return the incident after it."""
        return self._call("POST", f"/api/v1/incidents/{incident_id}/{action}", json=body or {})

    def get_oncall(self, at: datetime | None = None) -> dict[str, Any]:
        """Return who is on call now (or at `at`) per schedule, layer and team, with names."""
        params = {"at": rfc3339(at)} if at is not None else {}
        return self._call("GET", "/api/v1/oncall", params=params)

    def list_windows(self) -> dict[str, Any]:
        """Return maintenance windows open, upcoming and recently over, and the weekly ones."""
        return self._call("GET", "/api/v1/maintenance")

    def open_window(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open a maintenance window, one-off or weekly (a body with days)."""
        return self._call("POST", "/api/v1/maintenance", json=body)

    def extend_window(self, window_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Move a maintenance window's end."""
        return self._call("PATCH", f"/api/v1/maintenance/{window_id}", json=body)

    def end_window(self, window_id: int) -> dict[str, Any]:
        """End a maintenance window now, releasing what it held."""
        return self._call("DELETE", f"/api/v1/maintenance/{window_id}")

    def post_alerts(self, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        """Send Alertmanager v2 postable alerts."""
        return self._call("POST", "/api/v2/alerts", json=alerts)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise ClientError(f"{self.shown}: no answer within {self.timeout}s") from exc
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {self.shown}: {type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200] or response.reason}
        if response.status_code >= 400:
            message = body.get("error", response.reason) if isinstance(body, dict) else str(body)
            error = _BY_STATUS.get(response.status_code, ClientError)
            raise error(f"{response.status_code}: {message}")
        if not isinstance(body, dict):
            raise ClientError(f"{self.shown}{path}: unexpected answer {str(body)[:100]}")
        return body


def shown_url(url: str) -> str:
    """Return the URL as messages may show it: user info and query dropped (they hold secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "(an unparsable URL)"
    if not parts.scheme:
        return url.split("@")[-1].split("?")[0]
    return f"{parts.scheme}://{host}{port}{parts.path}"
