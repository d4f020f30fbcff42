"""Frozen policy objects, validated once at load; the engine reads them and never the YAML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tocsin.bridge.policy.matchers import Matcher

CLOCKS = ("response", "update", "resolution")
LANGUAGES = ("en", "zh-CN")  # of pages
CHANNEL_TYPES = ("webhook", "slack", "email", "wecom", "dingtalk", "feishu", "log", "sms", "voice")
# Phone channels and the providers that serve each: they reach a person at their `phone`.
E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # a phone number: +, country code, number
PHONE_PROVIDERS = {"sms": ("twilio", "aliyun", "tencent"), "voice": ("twilio", "aliyun", "tencent")}
DEFAULT_RULE = "default"  # the key of a person's rule for priorities without their own
TARGET_KINDS = ("person", "team", "schedule", "channel")
SLA_EVENTS = ("sla_warning", "sla_breached")  # what an escalation policy's sla_notify names
# Who is responsible, resolved when the event fires: Target("role", NAME) in sla_notify.
SLA_ROLES = ("assignee", "acknowledger", "step")


@dataclass(frozen=True)
class Calendar:
    """Business time: the working hours of working days in a time zone, minus holidays.

    With a `country`, its public holidays and make-up working days come from the holidays
    package; `holidays` and `workdays` are local overrides on top of them.
    """

    name: str
    timezone: ZoneInfo
    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    hours: tuple[tuple[time, time], ...]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # weekend days that are worked (make-up days)
    country: str | None = None  # ISO 3166-1 code, e.g. CN
    subdivision: str | None = None  # ISO 3166-2 subdivision code, e.g. NY for country US


@dataclass(frozen=True)
class PriorityPolicy:
    """The promises for one priority; a clock whose target is None is not kept."""

    key: str
    name: str
    response: timedelta | None
    update: timedelta | None
    resolution: timedelta | None
    warn_at: float = 0.67
    calendar: str | None = None

    def target(self, clock: str) -> timedelta | None:
        """Return the target of a clock by its name (response, update, resolution)."""
        value: timedelta | None = getattr(self, clock)
        return value


@dataclass(frozen=True)
class Route:
    """Maps alerts whose labels match to a priority, team and escalation policy."""

    match: Mapping[str, str]
    priority: str
    team: str | None = None
    escalation: str | None = None
    group_by: tuple[str, ...] | None = None  # None: the whole label set, one alert per incident
    auto_resolve: bool = True
    service_label: str = "service"

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether every matcher of the route equals the alert's label."""
        return all(labels.get(name) == value for name, value in self.match.items())


@dataclass(frozen=True)
class Channel:
    """A place notifications go; `events` makes it a subscription to those events."""

    name: str
    type: str
    settings: Mapping[str, Any]
    events: tuple[str, ...] = ()

    def subscribes_to(self, event: str) -> bool:
        """Return whether the channel asked for this event on every incident."""
        return "*" in self.events or event in self.events


@dataclass(frozen=True)
class Target:
    """Whom a step pages: person:NAME, team:NAME, schedule:NAME, channel:NAME (or role:NAME)."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class EscalationStep:
    """Page `notify` once `after` has passed since the incident opened (response path)."""

    after: timedelta
    notify: tuple[Target, ...]
    fallback: tuple[Target, ...] = ()  # paged instead when `notify` reaches nobody
    calendar: str | None = None  # pages only in this calendar's hours (else the policy's)


@dataclass(frozen=True)
class ResolutionStep:
    """While unresolved after `after`, raise the escalation level (expert, major) and page."""

    after: timedelta
    level: str
    notify: tuple[Target, ...]
    priorities: frozenset[str] = frozenset()
    major: bool = False
    fallback: tuple[Target, ...] = ()  # paged instead when `notify` reaches nobody
    calendar: str | None = None  # pages only in this calendar's hours (else the policy's)

    def applies_to(self, priority: str) -> bool:
        """Return whether this step is kept for an incident of the given priority."""
        return not self.priorities or priority in self.priorities


@dataclass(frozen=True)
class EscalationPolicy:
    """Timed steps on the response path, repeated until acknowledged, and the resolution path.

    With a `calendar`, steps page only in its working hours: their `after` counts working time,
    so outside the hours they wait for the next working period. Priorities in `around_the_clock`
    (and the policy's most urgent priority, always) page at any hour.
    """

    name: str
    steps: tuple[EscalationStep, ...]
    repeat: timedelta | None = None
    resolution: tuple[ResolutionStep, ...] = ()
    # Who hears sla_warning / sla_breached: targets and roles (assignee, acknowledger, step).
    sla_notify: Mapping[str, tuple[Target, ...]] = field(default_factory=dict)
    calendar: str | None = None
    around_the_clock: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RuleStep:
    """One step of a person's notification rule: reach them `via` a method `after` the page."""

    after: timedelta
    via: str  # one of the person's channels, or EMAIL (their address)


EMAIL = "email"  # a rule step's `via` that mails the person's own address


@dataclass(frozen=True)
class QuietHours:
    """Hours in a person's zone when their pages of other priorities than `always` wait."""

    start: time
    end: time  # before start: the quiet hours run past midnight
    timezone: ZoneInfo
    always: frozenset[str]  # priorities that reach the person at any hour


@dataclass(frozen=True)
class PhoneLimit:
    """At most `pages` SMS and calls to a person per `per`; the rest fold into one summary.

    With `call_interval`, a call also never rings them sooner than that after their last one.
    """

    pages: int
    per: timedelta
    call_interval: timedelta | None = None


@dataclass(frozen=True)
class Person:
    """Someone who can be paged: by email and on the chat channels named.

    With `rules`, a page reaches them as their rule for the incident's priority says (each
    step `after` the page, while it is unacknowledged); without, on every method at once.
    """

    name: str
    full_name: str
    email: str | None = None
    channels: tuple[str, ...] = ()
    timezone: ZoneInfo | None = None
    language: str | None = None  # of their pages: en or zh-CN (None: the channel's, else en)
    manager: bool = False  # may decide disputed breaches (an operator token of this name)
    phone: str | None = None  # E.164, e.g. +8613800138000: where sms and voice channels reach them
    rules: Mapping[str, tuple[RuleStep, ...]] = field(default_factory=dict)  # priority or DEFAULT
    quiet: QuietHours | None = None
    phone_limit: PhoneLimit | None = None
    role: str | None = None  # on the board: viewer|responder|service_desk|manager|admin

    def rule_for(self, priority: str) -> tuple[RuleStep, ...] | None:
        """Return the person's rule for a priority (else their default rule), or None."""
        return self.rules.get(priority) or self.rules.get(DEFAULT_RULE)


@dataclass(frozen=True)
class Team:
    """A group of people; paging a team pages its on-call schedule, or else every member."""

    name: str
    members: tuple[str, ...]
    schedule: str | None = None
    manager: str | None = None  # a person told of what needs a manager: a reporter's low score


@dataclass(frozen=True)
class Rotation:
    """People taking turns, handing off every `every` from `start` in the schedule's time zone."""

    members: tuple[str, ...]
    start: datetime
    every: timedelta


@dataclass(frozen=True)
class Override:
    """Someone else on call between two instants, e.g. for a swap or holiday cover."""

    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    """Who is on call when: layers of rotations (later layers win where they have someone), and overrides."""

    name: str
    timezone: ZoneInfo
    layers: tuple[Rotation, ...]
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class MaintenanceSpec:
    """A weekly maintenance window from the policy: these labels, these hours, in this zone."""

    name: str
    matchers: tuple[Matcher, ...]
    days: tuple[int, ...]  # 0 = Monday
    start: time
    end: time
    timezone: ZoneInfo
    reason: str


@dataclass(frozen=True)
class HeartbeatPolicy:
    """A host silent for `missed` intervals gets an incident of `priority`."""

    missed: int = 3
    priority: str = "P1"
    team: str | None = None
    escalation: str | None = None


@dataclass(frozen=True)
class FollowUpPolicy:
    """After resolution, ask the reporter for satisfaction on the n-th working day."""

    working_days: int = 2
    calendar: str | None = None


@dataclass(frozen=True)
class ReportSchedule:
    """Send the SLA report for the last `period` to channels at `at` on `day` in a calendar's zone."""

    name: str
    channels: tuple[str, ...]
    period: timedelta
    day: int | None  # weekday, 0 = Monday; None: every day
    at: time
    timezone: ZoneInfo


@dataclass(frozen=True)
class Policy:
    """Everything the bridge decides by; loaded once, replaced whole on reload."""

    priorities: Mapping[str, PriorityPolicy]
    routes: tuple[Route, ...]
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    channels: Mapping[str, Channel] = field(default_factory=dict)
    escalation_policies: Mapping[str, EscalationPolicy] = field(default_factory=dict)
    people: Mapping[str, Person] = field(default_factory=dict)
    teams: Mapping[str, Team] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    heartbeat: HeartbeatPolicy = HeartbeatPolicy()
    follow_up: FollowUpPolicy = FollowUpPolicy()
    reports: tuple[ReportSchedule, ...] = ()
    maintenance: Mapping[str, MaintenanceSpec] = field(default_factory=dict)
    source: str = "<policy>"

    def route_for(self, labels: Mapping[str, str]) -> Route:
        """Return the first route that matches; the loader guarantees a default exists."""
        for route in self.routes:
            if route.matches(labels):
                return route
        return self.routes[-1]

    def calendar_for(self, priority: str) -> Calendar | None:
        """Return the business calendar a priority's clocks count in, or None for 24x7."""
        name = self.priorities[priority].calendar
        return self.calendars[name] if name else None
