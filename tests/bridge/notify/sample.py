"""A sample incident JSON and page, with Chinese text, shared by the notify tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.message import Message, PastResolution, build_message

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def incident_json(**overrides: Any) -> dict[str, Any]:
    incident: dict[str, Any] = {
        "id": 42,
        "key": "abc",
        "title": "磁盘空间不足 on db-1",
        "priority": "P1",
        "status": "triggered",
        "paused": False,
        "service": "订单服务",
        "labels": {"alertname": "HostDiskFull", "instance": "db-1", "severity": "critical"},
        "alerts": [
            {
                "labels": {"alertname": "HostDiskFull"},
                "annotations": {
                    "summary": "/var 使用率 97%",
                    "runbook_url": "https://wiki.example.com/runbooks/disk",
                },
            }
        ],
        "sla": {
            "response": {
                "target_seconds": 900,
                "due_at": "2026-03-02T10:15:00Z",
                "remaining_seconds": 900,
                "breached": False,
            },
            "resolution": {
                "target_seconds": 7200,
                "due_at": "2026-03-02T12:00:00Z",
                "remaining_seconds": 7200,
                "breached": False,
            },
        },
    }
    incident.update(overrides)
    return incident


def message(**overrides: Any) -> Message:
    values: dict[str, Any] = {
        "event": "incident.triggered",
        "now": NOW,
        "priority_name": "emergency",
        "public_url": "https://oncall.example.com",
        "ack_url": "https://oncall.example.com/ack/TOKEN",
        "similar": [PastResolution(7, "磁盘满", "日志未轮转", "清理 /var/log 并启用 logrotate")],
    }
    values.update(overrides)
    return build_message(incident_json(), **values)


def notification(**overrides: Any) -> Notification:
    page = message(**overrides)
    body = {"event": page.event, "occurred_at": "2026-03-02T10:00:00Z", "incident": incident_json()}
    return Notification(key="ev1-ops-carol", body=body, message=page)
