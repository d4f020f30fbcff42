"""/api/v1/maintenance: open, list, extend and end maintenance windows, one-off or weekly."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.bridge.accounts import roles
from tocsin.bridge.api import auth
from tocsin.bridge.api.auth import Principal
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.api.params import RowId, without_nul
from tocsin.bridge.errors import Forbidden, InvalidInput
from tocsin.bridge.maintenance.service import check_agent_window
from tocsin.bridge.maintenance.weekly import read_weekly
from tocsin.bridge.platform.clock import as_utc
from tocsin.common.durations import parse_duration

router = APIRouter(prefix="/api/v1/maintenance", tags=["maintenance"])
Reader = Annotated[Principal, Depends(auth.reader)]
Manager = Annotated[Principal, Depends(auth.manager)]
Matcher = Annotated[str, Field(min_length=3, max_length=1100)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return without_nul(value)


class NewWindow(_Body):
    """A window: one-off (starts_at, ends_at or duration) or weekly (days, start, end or duration).

    A weekly window's start and end are local times of day in `timezone` (default UTC), on
    `days`, from the local date `first` to `until`; its duration is under 24 hours.
    """

    matchers: list[Matcher] = Field(min_length=1, max_length=20)
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration: Annotated[str, Field(max_length=20)] | None = None
    source: Annotated[str, Field(pattern="^(api|cli|web|agent)$")] = "api"
    days: list[Annotated[str, Field(max_length=10)]] | None = Field(default=None, max_length=7)
    start: Annotated[str, Field(max_length=5)] | None = None
    end: Annotated[str, Field(max_length=5)] | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    first: date | None = None
    until: date | None = None


WEEKLY_ONLY = ("start", "end", "timezone", "first", "until")
ONE_OFF_ONLY = ("starts_at", "ends_at")


class NewEnd(_Body):
    """A new end for a window: a time, or a duration from now."""

    ends_at: datetime | None = None
    duration: Annotated[str, Field(max_length=20)] | None = None


async def caller(request: Request, runtime: RuntimeDep) -> Principal:
    """Admit managers, and ingest tokens (agents) for their own narrow windows."""
    who = auth.authenticate(request, runtime)
    if who.role != roles.INGEST:
        roles.check(who.role, "manage")
    return who


Caller = Annotated[Principal, Depends(caller)]


@router.post("", status_code=201)
def open_window(body: NewWindow, who: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    """Open a window, one-off or weekly (with days); alerts it covers page nobody while open."""
    if body.days is not None:
        return _open_weekly(body, who, runtime)
    _refuse_given(body, WEEKLY_ONLY, "goes with days, in a weekly window")
    now = runtime.clock()
    starts_at = as_utc(body.starts_at) if body.starts_at else now
    if who.role == "ingest":
        # An agent's window is judged before its times: any other shape is refused outright.
        check_agent_window(body.matchers, starts_at, starts_at)
    ends_at = _end(body.ends_at, body.duration, starts_at)
    source = body.source
    if who.role == "ingest":
        check_agent_window(body.matchers, starts_at, ends_at)
        source = "agent"
    desk = runtime.maintenance
    window_id = desk.open(body.matchers, ends_at, body.reason, who.name, source, starts_at)
    return desk.shown(window_id)


def _open_weekly(body: NewWindow, who: Principal, runtime: RuntimeDep) -> dict[str, Any]:
    """Store a weekly window, such as every Sunday 02:00-04:00 Asia/Shanghai."""
    if who.role == "ingest":
        raise Forbidden("an ingest token may only open a one-off window for its own host")
    _refuse_given(body, ONE_OFF_ONLY, "is a one-off window's; a weekly one has start and end")
    if body.start is None:
        raise InvalidInput("a weekly window needs start, a local time such as '02:00'", "start")
    weekly = read_weekly(
        days=body.days or [],
        start=body.start,
        end=body.end,
        length=None if body.duration is None else window_length(body.duration),
        timezone=body.timezone or "UTC",
        first=body.first,
        until=body.until,
        now=runtime.clock(),
    )
    desk = runtime.maintenance
    window_id = desk.open_weekly(body.matchers, weekly, body.reason, who.name, body.source)
    return desk.shown(window_id)


def _refuse_given(body: NewWindow, names: tuple[str, ...], why: str) -> None:
    for name in names:
        if getattr(body, name) is not None:
            raise InvalidInput(f"{name} {why}", field=name)


@router.get("")
def list_windows(_who: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    """List one-off windows open, upcoming or over within a week, and weekly windows."""
    return runtime.maintenance.listing()


@router.get("/{window_id}")
def get_window(window_id: RowId, _who: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    """Return one window, what it held back, and its audit trail."""
    return runtime.maintenance.shown(window_id)


@router.patch("/{window_id}")
def move_end(window_id: RowId, body: NewEnd, who: Manager, runtime: RuntimeDep) -> dict[str, Any]:
    """Extend (or shorten) a window that is still open."""
    desk = runtime.maintenance
    desk.extend(window_id, _end(body.ends_at, body.duration, runtime.clock()), who.name)
    return desk.shown(window_id)


@router.delete("/{window_id}")
def end(window_id: RowId, who: Manager, runtime: RuntimeDep) -> dict[str, Any]:
    """End a window now; alerts it held that still fire open incidents at once."""
    desk = runtime.maintenance
    released = desk.end(window_id, who.name)
    return {**desk.shown(window_id), "released": released}


def _end(ends_at: datetime | None, duration: str | None, start: datetime) -> datetime:
    if (ends_at is None) == (duration is None):
        raise InvalidInput("give either ends_at or duration (such as '30m')", field="duration")
    if ends_at is not None:
        return as_utc(ends_at)
    return start + window_length(duration or "")


def window_length(duration: str) -> timedelta:
    """Return a positive duration such as '30m', or InvalidInput naming `duration`."""
    try:
        length = timedelta(seconds=parse_duration(duration, numbers=True))
    except ValueError as exc:
        raise InvalidInput(str(exc), field="duration") from exc
    if length <= timedelta(0):
        raise InvalidInput("the duration must be positive", field="duration")
    return length
