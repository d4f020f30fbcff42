"""Read a policy YAML file into a Policy, refusing anything wrong with file, line and key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.config import PERSON_ROLES
from tocsin.bridge.platform.where import Where, as_list, as_mapping
from tocsin.bridge.policy.calendars import DAYS
from tocsin.bridge.policy.calendars import clock_time as _clock_time
from tocsin.bridge.policy.calendars import parse_calendar as _calendar
from tocsin.bridge.policy.calendars import zone as _zone
from tocsin.bridge.policy.maintenance import parse_maintenance
from tocsin.bridge.policy.model import (
    CHANNEL_TYPES,
    E164,
    LANGUAGES,
    PHONE_PROVIDERS,
    SLA_EVENTS,
    SLA_ROLES,
    TARGET_KINDS,
    Calendar,
    Channel,
    EscalationPolicy,
    EscalationStep,
    FollowUpPolicy,
    HeartbeatPolicy,
    Override,
    Person,
    Policy,
    PriorityPolicy,
    ReportSchedule,
    ResolutionStep,
    Rotation,
    Route,
    Schedule,
    Target,
    Team,
)
from tocsin.bridge.policy.personal import (
    methods_of,
    parse_phone_limit,
    parse_quiet_hours,
    parse_rules,
)
from tocsin.common.durations import parse_duration
from tocsin.common.yamlsource import load_file, load_text, shown, shown_path

SECTIONS = (
    "calendars",
    "priorities",
    "routes",
    "channels",
    "escalation_policies",
    "people",
    "teams",
    "schedules",
    "heartbeat",
    "follow_up",
    "reports",
    "maintenance",
)
T = TypeVar("T")


def bundled_policy_path() -> Path:
    """Return the path of rules/policy.yml as installed with the package."""
    return Path(str(files("tocsin_rules").joinpath("policy.yml")))


def load_policy(path: Path | None = None) -> Policy:
    """Load a policy file, or the bundled default when no path is given."""
    path = path or bundled_policy_path()
    return _parse(load_file(path, error=ConfigError, any_scalar_key=True), str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse policy YAML text (tests and check-config use this)."""
    return _parse(load_text(text, source, error=ConfigError, any_scalar_key=True), source)


def _str(raw: Any, where: Where) -> str:
    if not isinstance(raw, str) or not raw:
        raise where.error(f"expected a non-empty string, got {where.show(raw)}")
    return raw


def _duration(raw: Any, where: Where) -> timedelta:
    try:
        value = timedelta(seconds=parse_duration(raw, numbers=True))
    except ValueError as exc:
        raise where.error(str(exc)) from exc
    if value.total_seconds() < 0:
        raise where.error(f"{shown(raw)} is negative; expected a duration such as '15m'")
    return value


def _optional(
    raw: Mapping[str, Any], key: str, where: Where, parse: Callable[[Any, Where], T]
) -> T | None:
    if raw.get(key) is None:
        return None
    return parse(raw[key], where.key(raw, key))


def _datetime(raw: Any, where: Where, zone: ZoneInfo) -> datetime:
    try:
        text = raw if isinstance(raw, str) else ""
        value = raw if isinstance(raw, datetime) else datetime.fromisoformat(text)
    except ValueError as exc:
        raise where.error(
            f"{shown(raw)} is not a date and time; expected e.g. '2026-01-05T09:00'"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _priority(
    key: str, raw: Any, where: Where, calendars: Mapping[str, Calendar]
) -> PriorityPolicy:
    raw = as_mapping(
        raw, where, ("name", "response", "update", "resolution", "warn_at", "calendar")
    )
    targets = {
        clock: _optional(raw, clock, where, _duration)
        for clock in ("response", "update", "resolution")
    }
    if not any(targets.values()):
        raise where.error("a priority needs at least one target: response, update or resolution")
    warn_at = raw.get("warn_at", 0.67)
    if isinstance(warn_at, bool) or not isinstance(warn_at, (int, float)) or not 0 < warn_at < 1:
        raise where.key(raw, "warn_at").error(
            f"{shown(warn_at)} must be a fraction between 0 and 1, e.g. 0.67"
        )
    calendar = raw.get("calendar")
    if calendar is not None and calendar not in calendars:
        raise where.key(raw, "calendar").error(
            f"unknown calendar {shown(calendar)}; define it under 'calendars'"
        )
    return PriorityPolicy(
        key=key,
        name=str(raw.get("name", key)),
        response=targets["response"],
        update=targets["update"],
        resolution=targets["resolution"],
        warn_at=float(warn_at),
        calendar=calendar,
    )


def _labels(raw: Any, where: Where) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_mapping(raw, where).items()}


def _route(raw: Any, where: Where, policy: dict[str, Any]) -> Route:
    allowed = (
        "match",
        "priority",
        "team",
        "escalation",
        "group_by",
        "auto_resolve",
        "service_label",
    )
    raw = as_mapping(raw, where, allowed)
    priority = _str(raw.get("priority"), where.key(raw, "priority"))
    if priority not in policy["priorities"]:
        raise where.key(raw, "priority").error(
            f"unknown priority {shown(priority)}; defined: {', '.join(policy['priorities'])}"
        )
    escalation = raw.get("escalation")
    if escalation is not None and escalation not in policy["escalation_policies"]:
        raise where.key(raw, "escalation").error(f"unknown escalation policy {shown(escalation)}")
    team = raw.get("team")
    if team is not None and team not in policy["teams"]:
        raise where.key(raw, "team").error(f"unknown team {shown(team)}; define it under 'teams'")
    group_by = raw.get("group_by")
    return Route(
        match=_labels(raw.get("match"), where.key(raw, "match")),
        priority=priority,
        team=team,
        escalation=escalation,
        group_by=tuple(str(g) for g in as_list(group_by, where.key(raw, "group_by")))
        if group_by
        else None,
        auto_resolve=bool(raw.get("auto_resolve", True)),
        service_label=str(raw.get("service_label", "service")),
    )


def _channel(name: str, raw: Any, where: Where) -> Channel:
    raw = as_mapping(raw, where)
    kind = raw.get("type")
    if kind not in CHANNEL_TYPES:
        raise where.key(raw, "type").error(
            f"{shown(kind)} is not a channel type; expected one of {', '.join(CHANNEL_TYPES)}"
        )
    if kind == "email":
        if not as_list(raw.get("to"), where.key(raw, "to")):
            raise where.key(raw, "to").error("an email channel needs 'to': a list of addresses")
    elif kind in PHONE_PROVIDERS:
        if raw.get("provider") not in PHONE_PROVIDERS[kind]:
            raise where.key(raw, "provider").error(
                f"{shown(raw.get('provider'))} is not a {kind} provider; "
                f"expected one of {', '.join(PHONE_PROVIDERS[kind])}"
            )
    elif kind != "log" and not raw.get("url") and not raw.get("url_file"):
        raise where.key(raw, "url").error(
            f"a {kind} channel needs 'url' (or 'url_file' to keep the token out of the policy)"
        )
    for key, value in raw.items():
        if str(key).endswith("_file") and value is not None:
            _readable(value, where.key(raw, key))
    _language(raw, where)
    if raw.get("timezone") is not None:
        _zone(raw["timezone"], where.key(raw, "timezone"))
    events = tuple(str(e) for e in as_list(raw.get("events"), where.key(raw, "events")))
    settings = {k: v for k, v in raw.items() if k not in ("type", "events")}
    return Channel(name=name, type=str(kind), settings=settings, events=events)


def _language(raw: Mapping[str, Any], where: Where) -> str | None:
    """Return the `language` of a person or channel: one of LANGUAGES, or None when unset."""
    value = raw.get("language")
    if value is not None and value not in LANGUAGES:
        raise where.key(raw, "language").error(
            f"{shown(value)} is not a page language; expected one of {', '.join(LANGUAGES)}"
        )
    return None if value is None else str(value)


def _readable(raw: Any, where: Where) -> None:
    """Refuse a secret file that cannot be read now, rather than at the first page it breaks."""
    try:
        with open(str(raw), "rb"):
            pass
    except OSError as exc:
        raise where.error(f"cannot read {shown_path(raw)}: {exc.strerror}") from exc


def _targets(
    raw: Any, where: Where, policy: dict[str, Any], roles: tuple[str, ...] = ()
) -> tuple[Target, ...]:
    out = []
    sections = {"person": "people", "team": "teams", "schedule": "schedules", "channel": "channels"}
    also = "".join(f", {role}" for role in roles)
    for index, item in enumerate(as_list(raw, where)):
        at = where.key(raw, index)
        if item in roles:
            out.append(Target("role", str(item)))
            continue
        kind, _, name = (item if isinstance(item, str) else "").partition(":")
        if kind not in TARGET_KINDS or not name:
            raise at.error(
                f"{shown(item)} is not a target; expected person:NAME, team:NAME, schedule:NAME or channel:NAME{also}"
            )
        if name not in policy[sections[kind]]:
            raise at.error(f"unknown {kind} {shown(name)}; define it under '{sections[kind]}'")
        out.append(Target(kind, name))
    return tuple(out)


def _escalation(name: str, raw: Any, where: Where, policy: dict[str, Any]) -> EscalationPolicy:
    # The contract's short form is a bare list of steps; the long form adds repeat and the resolution path.
    if isinstance(raw, list):
        raw = {"steps": raw}
    raw = as_mapping(
        raw, where, ("steps", "repeat", "resolution", "sla_notify", "calendar", "around_the_clock")
    )
    steps = []
    steps_where = where.key(raw, "steps")
    for index, step in enumerate(as_list(raw.get("steps"), steps_where)):
        at = steps_where.key(raw["steps"], index)
        step = as_mapping(step, at, ("after", "notify", "fallback", "calendar"))
        steps.append(
            EscalationStep(
                after=_duration(step.get("after", "0m"), at.key(step, "after")),
                notify=_targets(step.get("notify"), at.key(step, "notify"), policy),
                fallback=_targets(step.get("fallback"), at.key(step, "fallback"), policy),
                calendar=_calendar_name(step, at, policy),
            )
        )
    resolution = []
    res_where = where.key(raw, "resolution")
    for index, step in enumerate(as_list(raw.get("resolution"), res_where)):
        at = res_where.key(raw["resolution"], index)
        step = as_mapping(
            step, at, ("after", "level", "notify", "priorities", "major", "fallback", "calendar")
        )
        resolution.append(
            ResolutionStep(
                after=_duration(step.get("after"), at.key(step, "after")),
                level=_str(step.get("level"), at.key(step, "level")),
                notify=_targets(step.get("notify"), at.key(step, "notify"), policy),
                priorities=frozenset(
                    str(p) for p in as_list(step.get("priorities"), at.key(step, "priorities"))
                ),
                major=bool(step.get("major", False)),
                fallback=_targets(step.get("fallback"), at.key(step, "fallback"), policy),
                calendar=_calendar_name(step, at, policy),
            )
        )
    steps.sort(key=lambda s: s.after)
    resolution.sort(key=lambda s: s.after)
    return EscalationPolicy(
        name=name,
        steps=tuple(steps),
        repeat=_optional(raw, "repeat", where, _duration),
        resolution=tuple(resolution),
        sla_notify=_sla_notify(raw, where, policy),
        calendar=_calendar_name(raw, where, policy),
        around_the_clock=_priority_names(raw, "around_the_clock", where, policy),
    )


def _sla_notify(raw: Any, where: Where, policy: dict[str, Any]) -> dict[str, tuple[Target, ...]]:
    """Return who hears each SLA event: roles (assignee, acknowledger, step) and targets."""
    at = where.key(raw, "sla_notify")
    found = as_mapping(raw.get("sla_notify") or {}, at, SLA_EVENTS)
    return {
        event: _targets(found[event], at.key(found, event), policy, SLA_ROLES) for event in found
    }


def _calendar_name(raw: Mapping[str, Any], where: Where, policy: dict[str, Any]) -> str | None:
    name = raw.get("calendar")
    if name is not None and name not in policy["calendars"]:
        raise where.key(raw, "calendar").error(
            f"unknown calendar {shown(name)}; define it under 'calendars'"
        )
    return None if name is None else str(name)


def _priority_names(
    raw: Mapping[str, Any], key: str, where: Where, policy: dict[str, Any]
) -> frozenset[str]:
    names = frozenset(str(p) for p in as_list(raw.get(key), where.key(raw, key)))
    for name in sorted(names - set(policy["priorities"])):
        raise where.key(raw, key).error(
            f"unknown priority {shown(name)}; defined: {', '.join(policy['priorities'])}"
        )
    return names


PERSON_KEYS = (
    "name", "email", "channels", "timezone", "language", "manager", "phone", "rules", "quiet_hours",
    "phone_limit", "role",
)  # fmt: skip


def _person(name: str, raw: Any, where: Where, policy: dict[str, Any]) -> Person:
    raw = as_mapping(raw, where, PERSON_KEYS)
    phone = raw.get("phone")
    if phone is not None and not E164.fullmatch(str(phone)):
        raise where.key(raw, "phone").error(
            f"{shown(phone)} is not an E.164 number; expected '+', the country code and the "
            "number, digits only, e.g. +8613800138000"
        )
    channels = tuple(str(c) for c in as_list(raw.get("channels"), where.key(raw, "channels")))
    timezone = _optional(raw, "timezone", where, _zone)
    priorities = list(policy["priorities"])
    return Person(
        rules=parse_rules(
            raw.get("rules"),
            where.key(raw, "rules"),
            priorities=priorities,
            methods=methods_of(raw),
        ),
        quiet=None
        if raw.get("quiet_hours") is None
        else parse_quiet_hours(
            raw["quiet_hours"],
            where.key(raw, "quiet_hours"),
            priorities=priorities,
            person_zone=timezone,
        ),
        phone_limit=_optional(raw, "phone_limit", where, parse_phone_limit),
        role=_role(raw, where),
        manager=raw.get("manager") is True,
        phone=None if phone is None else str(phone),
        language=_language(raw, where),
        name=name,
        full_name=str(raw.get("name", name)),
        email=raw.get("email"),
        channels=channels,
        timezone=timezone,
    )


def _role(raw: Mapping[str, Any], where: Where) -> str | None:
    role = raw.get("role")
    if role is not None and role not in PERSON_ROLES:
        raise where.key(raw, "role").error(
            f"unknown role {shown(role)}; expected one of {', '.join(PERSON_ROLES)}"
        )
    return role


def _team(name: str, raw: Any, where: Where, policy: dict[str, Any]) -> Team:
    raw = as_mapping(raw, where, ("members", "schedule", "manager"))
    members = tuple(str(m) for m in as_list(raw.get("members"), where.key(raw, "members")))
    for member in members:
        if member not in policy["people"]:
            raise where.key(raw, "members").error(
                f"unknown person {shown(member)}; define them under 'people'"
            )
    schedule = raw.get("schedule")
    if schedule is not None and schedule not in policy["schedules"]:
        raise where.key(raw, "schedule").error(f"unknown schedule {shown(schedule)}")
    manager = raw.get("manager")
    if manager is not None and manager not in policy["people"]:
        raise where.key(raw, "manager").error(
            f"unknown person {shown(manager)}; define them under 'people'"
        )
    return Team(name=name, members=members, schedule=schedule, manager=manager)


def _rotation(raw: Any, where: Where, zone: ZoneInfo, policy: dict[str, Any]) -> Rotation:
    raw = as_mapping(raw, where, ("members", "start", "every"))
    members = tuple(str(m) for m in as_list(raw.get("members"), where.key(raw, "members")))
    if not members:
        raise where.key(raw, "members").error("a rotation needs at least one member")
    for member in members:
        if member not in policy["people"]:
            raise where.key(raw, "members").error(
                f"unknown person {shown(member)}; define them under 'people'"
            )
    every = _duration(raw.get("every", "1w"), where.key(raw, "every"))
    if every <= timedelta(0):
        raise where.key(raw, "every").error("a hand-off interval must be longer than zero")
    return Rotation(
        members=members,
        start=_datetime(raw.get("start", "2026-01-05T09:00"), where.key(raw, "start"), zone),
        every=every,
    )


def _schedule(name: str, raw: Any, where: Where, policy: dict[str, Any]) -> Schedule:
    raw = as_mapping(raw, where, ("timezone", "layers", "rotation", "overrides"))
    zone = _zone(raw.get("timezone", "UTC"), where.key(raw, "timezone"))
    layer_items = as_list(raw.get("layers"), where.key(raw, "layers"))
    if raw.get("rotation") is not None:
        layer_items = [raw["rotation"], *layer_items]
    if not layer_items:
        raise where.error("a schedule needs 'rotation' or 'layers'")
    layers = tuple(
        _rotation(item, where.key(raw, "layers").key(layer_items, i), zone, policy)
        for i, item in enumerate(layer_items)
    )
    overrides = []
    over_where = where.key(raw, "overrides")
    for index, item in enumerate(as_list(raw.get("overrides"), over_where)):
        at = over_where.key(raw["overrides"], index)
        item = as_mapping(item, at, ("person", "from", "until"))
        person = _str(item.get("person"), at.key(item, "person"))
        if person not in policy["people"]:
            raise at.key(item, "person").error(f"unknown person {shown(person)}")
        start = _datetime(item.get("from"), at.key(item, "from"), zone)
        end = _datetime(item.get("until"), at.key(item, "until"), zone)
        if end <= start:
            raise at.key(item, "until").error("an override must end after it starts")
        overrides.append(Override(person, start, end))
    return Schedule(name=name, timezone=zone, layers=layers, overrides=tuple(overrides))


def _heartbeat(raw: Any, where: Where, policy: dict[str, Any]) -> HeartbeatPolicy:
    raw = as_mapping(raw, where, ("missed", "priority", "team", "escalation"))
    missed = raw.get("missed", 3)
    if isinstance(missed, bool) or not isinstance(missed, int) or missed < 1:
        raise where.key(raw, "missed").error(
            f"{shown(missed)} must be a whole number of heartbeats, at least 1"
        )
    priority = str(raw.get("priority", "P1"))
    if priority not in policy["priorities"]:
        raise where.key(raw, "priority").error(f"unknown priority {shown(priority)}")
    escalation = raw.get("escalation")
    if escalation is not None and escalation not in policy["escalation_policies"]:
        raise where.key(raw, "escalation").error(f"unknown escalation policy {shown(escalation)}")
    return HeartbeatPolicy(
        missed=missed, priority=priority, team=raw.get("team"), escalation=escalation
    )


def _follow_up(raw: Any, where: Where, policy: dict[str, Any]) -> FollowUpPolicy:
    raw = as_mapping(raw, where, ("working_days", "calendar"))
    days = raw.get("working_days", 2)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise where.key(raw, "working_days").error(
            f"{shown(days)} must be a whole number of working days"
        )
    calendar = raw.get("calendar")
    if calendar is None and policy["calendars"]:
        calendar = next(iter(policy["calendars"]))
    if calendar is not None and calendar not in policy["calendars"]:
        raise where.key(raw, "calendar").error(f"unknown calendar {shown(calendar)}")
    return FollowUpPolicy(working_days=days, calendar=calendar)


def _report(raw: Any, where: Where, policy: dict[str, Any]) -> ReportSchedule:
    raw = as_mapping(raw, where, ("name", "channels", "period", "day", "at", "timezone"))
    channels = tuple(str(c) for c in as_list(raw.get("channels"), where.key(raw, "channels")))
    for channel in channels:
        if channel not in policy["channels"]:
            raise where.key(raw, "channels").error(f"unknown channel {shown(channel)}")
    day = raw.get("day")
    if day is not None and (not isinstance(day, str) or day.lower() not in DAYS):
        raise where.key(raw, "day").error(
            f"{shown(day)} is not a day; expected one of {', '.join(DAYS)}"
        )
    default_zone = (
        next(iter(policy["calendars"].values())).timezone.key if policy["calendars"] else "UTC"
    )
    return ReportSchedule(
        name=str(raw.get("name", "sla")),
        channels=channels,
        period=_duration(raw.get("period", "7d"), where.key(raw, "period")),
        day=DAYS[str(day).lower()] if day is not None else None,
        at=_clock_time(raw.get("at", "09:00"), where.key(raw, "at")),
        timezone=_zone(raw.get("timezone", default_zone), where.key(raw, "timezone")),
    )


def _section(
    raw: Mapping[str, Any], key: str, where: Where, parse: Callable[[str, Any, Where], T]
) -> dict[str, T]:
    section_where = where.key(raw, key)
    section = as_mapping(raw.get(key), section_where)
    return {
        str(name): parse(str(name), value, section_where.key(section, name))
        for name, value in section.items()
    }


def _parse(raw: Any, source: str) -> Policy:
    where = Where(source)
    raw = as_mapping(raw, where, SECTIONS)
    # Sections are parsed in dependency order so references can be checked as they are read.
    policy: dict[str, Any] = {}
    policy["calendars"] = _section(raw, "calendars", where, _calendar)
    policy["priorities"] = _section(
        raw, "priorities", where, lambda k, v, w: _priority(k, v, w, policy["calendars"])
    )
    if not policy["priorities"]:
        raise where.key(raw, "priorities").error(
            "at least one priority is needed, e.g. P1 with a response target"
        )
    policy["channels"] = _section(raw, "channels", where, _channel)
    policy["people"] = _section(raw, "people", where, lambda k, v, w: _person(k, v, w, policy))
    for person in policy["people"].values():
        for channel in person.channels:
            if channel not in policy["channels"]:
                raise where.key(raw, "people").error(
                    f"person {shown(person.name)}: unknown channel {shown(channel)}"
                )
            if policy["channels"][channel].type in PHONE_PROVIDERS and not person.phone:
                raise where.key(raw, "people").error(
                    f"person {shown(person.name)}: channel {shown(channel)} calls or texts a "
                    "phone; give them 'phone' (E.164, e.g. +8613800138000)"
                )
    policy["schedules"] = _section(
        raw, "schedules", where, lambda k, v, w: _schedule(k, v, w, policy)
    )
    policy["teams"] = _section(raw, "teams", where, lambda k, v, w: _team(k, v, w, policy))
    policy["escalation_policies"] = _section(
        raw, "escalation_policies", where, lambda k, v, w: _escalation(k, v, w, policy)
    )
    routes_where = where.key(raw, "routes")
    routes_raw = as_list(raw.get("routes"), routes_where)
    routes = tuple(
        _route(item, routes_where.key(routes_raw, i), policy) for i, item in enumerate(routes_raw)
    )
    if not routes or routes[-1].match:
        raise routes_where.error(
            "the last route must have no 'match': it is the default for every other alert"
        )
    heartbeat = _heartbeat(raw.get("heartbeat"), where.key(raw, "heartbeat"), policy)
    follow_up = _follow_up(raw.get("follow_up"), where.key(raw, "follow_up"), policy)
    reports_where = where.key(raw, "reports")
    reports_raw = as_list(raw.get("reports"), reports_where)
    reports = tuple(
        _report(item, reports_where.key(reports_raw, i), policy)
        for i, item in enumerate(reports_raw)
    )
    return Policy(
        priorities=policy["priorities"],
        routes=routes,
        calendars=policy["calendars"],
        channels=policy["channels"],
        escalation_policies=policy["escalation_policies"],
        people=policy["people"],
        teams=policy["teams"],
        schedules=policy["schedules"],
        heartbeat=heartbeat,
        follow_up=follow_up,
        reports=reports,
        maintenance=_section(raw, "maintenance", where, parse_maintenance),
        source=source,
    )
