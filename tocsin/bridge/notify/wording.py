"""What pages say, in English and Simplified Chinese: labels, headlines, details, time left.

Pages follow the reader's `language` (a person's, else the channel's; English by default)
and show the deadline in the reader's time zone, as words: "14 minutes 30 seconds", "14 分 30 秒".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),  # not %a: that follows the locale
    "zh-CN": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "first": "New {priority} incident: {title}",
        "headline": "[{priority}] {what}: {title}",
        "incident.triggered": "Triggered",
        "incident.acknowledged": "Acknowledged",
        "incident.first_contact": "First contact",
        "incident.escalated": "Escalated",
        "incident.sla_warning": "SLA warning",
        "incident.sla_breached": "SLA breached",
        "incident.paused": "Paused",
        "incident.resumed": "Resumed",
        "incident.reassigned": "Reassigned",
        "incident.note_added": "Note added",
        "incident.resolved": "Resolved",
        "incident.closed": "Closed",
        "incident.follow_up_due": "Follow-up due",
        "incident.reopened": "Reopened",
        "incident.resolution_edited": "Resolution edited",
        "incident.notified": "Person notified",
        "incident.retitled": "Title changed",
        "incident.survey_answered": "Low satisfaction from the reporter",
        "incident.reporter_mail_failed": "Mail to the reporter failed",
        "detail.survey": "The reporter rated the handling {score}/5. Their words: {comment}",
        "label.priority": "Priority",
        "label.event": "Event",
        "label.status": "Status",
        "label.alert": "Alert",
        "label.host": "Host",
        "label.service": "Service",
        "label.severity": "Severity",
        "label.summary": "Summary",
        "label.deadline": "Deadline",
        "label.runbook": "Runbook",
        "label.incident": "Incident",
        "label.acknowledge": "Acknowledge",
        "label.similar": "Similar",
        "ack.text": "acknowledge in one click",
        "button.ack": "Acknowledge",
        "button.open": "Open incident",
        "no_fix": "no solution recorded",
        "clock.response": "response",
        "clock.update": "update",
        "clock.resolution": "resolution",
        "due": "{clock} due in {left}{business}, at {when}",
        "overdue": "{clock} overdue by {left}{business}, since {when}",
        "business": " of business hours",
        "detail.sla": "{what} on the {clock} clock",
        "detail.escalated": "escalated to level {level}",
        "detail.escalated_plain": "escalated",
        "detail.note": "note{by}: {text}",
        "detail.assigned": "assigned to {assignee}{by}",
        "detail.by": " by {actor}",
        "detail.other": "{what}{by}",
        "detail.first": "new incident: first page",
        "stale.detail": "{status} before this page was sent: nothing to do",
        "unit.d": "{n} day|{n} days",
        "unit.h": "{n} hour|{n} hours",
        "unit.m": "{n} minute|{n} minutes",
        "unit.s": "{n} second|{n} seconds",
        "unit.join": " ",
    },
    "zh-CN": {
        "first": "新 {priority} 事件：{title}",
        "headline": "[{priority}] {what}：{title}",
        "incident.triggered": "已触发",
        "incident.acknowledged": "已确认",
        "incident.first_contact": "首次联系",
        "incident.escalated": "已升级",
        "incident.sla_warning": "SLA 预警",
        "incident.sla_breached": "SLA 超时",
        "incident.paused": "已暂停",
        "incident.resumed": "已恢复",
        "incident.reassigned": "已转派",
        "incident.note_added": "新备注",
        "incident.resolved": "已解决",
        "incident.closed": "已关闭",
        "incident.follow_up_due": "待回访",
        "incident.reopened": "已重新打开",
        "incident.resolution_edited": "解决记录已修改",
        "incident.notified": "已通知个人",
        "incident.retitled": "标题已更改",
        "incident.survey_answered": "报告人满意度低",
        "incident.reporter_mail_failed": "发给报告人的邮件失败",
        "detail.survey": "报告人对处理的评分为 {score}/5。原话：{comment}",
        "label.priority": "优先级",
        "label.event": "事件",
        "label.status": "状态",
        "label.alert": "告警",
        "label.host": "主机",
        "label.service": "服务",
        "label.severity": "级别",
        "label.summary": "摘要",
        "label.deadline": "时限",
        "label.runbook": "处置手册",
        "label.incident": "事件链接",
        "label.acknowledge": "确认",
        "label.similar": "类似事件",
        "ack.text": "一键确认",
        "button.ack": "确认",
        "button.open": "打开事件",
        "no_fix": "未记录解决方案",
        "clock.response": "响应",
        "clock.update": "更新",
        "clock.resolution": "解决",
        "due": "{clock}时限还剩 {left}{business}，截止 {when}",
        "overdue": "{clock}已超时 {left}{business}，截止于 {when}",
        "business": "（工作时间）",
        "detail.sla": "{clock}时钟{what}",
        "detail.escalated": "升级到第 {level} 级",
        "detail.escalated_plain": "已升级",
        "detail.note": "{by}备注：{text}",
        "detail.assigned": "{by}转派给 {assignee}",
        "detail.by": "{actor} ",
        "detail.other": "{by}{what}",
        "detail.first": "新事件：首次通知",
        "stale.detail": "本通知发出前事件已{status}，无需处理",
        "unit.d": "{n} 天",
        "unit.h": "{n} 小时",
        "unit.m": "{n} 分",
        "unit.s": "{n} 秒",
        "unit.join": " ",
    },
}


def language_of(value: object) -> str:
    """Return a supported language for a setting, English for anything else."""
    return str(value) if value in LANGUAGES else DEFAULT_LANGUAGE


# Each language's texts with English where it has none: one lookup a text (a page asks ~20).
_FILLED = {
    language: {**TEXTS[DEFAULT_LANGUAGE], **{key: found for key, found in own.items() if found}}
    for language, own in TEXTS.items()
}


def page_texts(language: str) -> Mapping[str, str]:
    """Return every page text of a language, English where it has none (a page reads many)."""
    return _FILLED.get(language, _FILLED[DEFAULT_LANGUAGE])


def text(language: str, key: str, **values: object) -> str:
    """Return a page text in the language (English if it has none), with values filled in."""
    found = _FILLED.get(language, _FILLED[DEFAULT_LANGUAGE])[key]
    return found.format(**values) if values else found


def _unit(texts: Mapping[str, str], unit: str, n: int) -> str:
    one, _, many = texts[unit].partition("|")
    return (one if n == 1 or not many else many).format(n=n)


def in_words(seconds: float, language: str, *, days: bool = True) -> str:
    """Return a span in words, its two largest units: '2 hours 5 minutes', '14 分 30 秒'."""
    texts = page_texts(language)
    total = int(abs(seconds))
    whole_days, rest = divmod(total, 86400) if days else (0, total)
    parts = [("unit.d", whole_days), ("unit.h", rest // 3600), ("unit.m", rest % 3600 // 60),
             ("unit.s", rest % 60)]  # fmt: skip
    while len(parts) > 1 and parts[0][1] == 0:
        parts.pop(0)
    shown = [_unit(texts, unit, n) for unit, n in parts[:2] if n or unit == parts[0][0]]
    return texts["unit.join"].join(shown)


def zone_of(name: object) -> ZoneInfo | None:
    """Return a time zone by its name, None for a missing or unknown one."""
    if not isinstance(name, str) or not name:
        return None
    return _zone(name)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    """Return a named zone, looked up once: every page with a deadline asks for its reader's."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(instant: datetime, zone: ZoneInfo, language: str) -> str:
    """Return an instant as a reader in `zone` reads it: 'Mon 2026-03-09 17:00 Asia/Shanghai'."""
    local = instant.astimezone(zone)
    weekday = WEEKDAYS.get(language, WEEKDAYS[DEFAULT_LANGUAGE])[local.weekday()]
    # isoformat rather than strftime (%Y-%m-%d %H:%M): the same text for a third of the cost.
    return f"{weekday} {local.isoformat(' ', 'minutes')[:16]} {zone.key}"


def describe_deadline(
    clock: str, remaining: float, due: datetime, zone: ZoneInfo, language: str, business: bool
) -> str:
    """Return the time left as words and the due time in the reader's zone."""
    return text(
        language,
        "overdue" if remaining < 0 else "due",
        clock=text(language, f"clock.{clock}")
        if clock in ("response", "update", "resolution")
        else clock,
        left=in_words(remaining, language, days=not business),
        business=text(language, "business") if business else "",
        when=local_time(due, zone, language),
    )


def event_detail(event: str, data: Mapping[str, object], actor: str | None, language: str) -> str:
    """Return what this event adds to the page, from its timeline data."""
    by = text(language, "detail.by", actor=actor) if actor else ""
    if event in ("incident.sla_warning", "incident.sla_breached"):
        sla = data.get("sla")
        clock = sla.get("clock") if isinstance(sla, Mapping) else sla
        name = (
            text(language, f"clock.{clock}")
            if clock in ("response", "update", "resolution")
            else "SLA"
        )
        return text(language, "detail.sla", what=text(language, event), clock=name)
    if event == "incident.escalated":
        if data.get("path") == "response" and data.get("step") == 0:
            return text(language, "detail.first")
        level = data.get("level")
        if level is None:
            return text(language, "detail.escalated_plain")
        return text(language, "detail.escalated", level=level)
    if event == "incident.note_added" and data.get("text"):
        return text(language, "detail.note", by=by, text=data["text"])
    if event == "incident.survey_answered":
        return text(language, "detail.survey", score=data.get("score"),
                    comment=data.get("comment") or "-")  # fmt: skip
    if event == "incident.reassigned" and data.get("assignee"):
        return text(language, "detail.assigned", assignee=data["assignee"], by=by)
    what = text(language, event) if event in TEXTS[DEFAULT_LANGUAGE] else event
    if language == DEFAULT_LANGUAGE:
        what = what.lower()
    return text(language, "detail.other", what=what, by=by)
