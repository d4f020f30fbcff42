"""Escalate by hand: page the next level of the incident's escalation policy now.

An on-call engineer who presses Escalate wants the next level paged at once, not at its timed
step. While nobody has acknowledged, that is the response path's pending step (the backup, then
the experts…); once acknowledged, it is the resolution path's pending level (expert, then major
incident and management). The pending timer of that path is pulled forward: it is cancelled and
the step after it is scheduled at its own time, so the same people are not paged twice. Past the
last step of a path the last step's targets are paged again. An acknowledged incident whose
priority has no resolution step repeats the response path's last step; an incident without an
escalation policy only has its level raised, paging nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from tocsin.bridge.incidents.events import Event
from tocsin.bridge.incidents.service import EscalationPlan
from tocsin.bridge.paging.escalation import (
    Step,
    last_resolution_step,
    last_response_step,
    resolution_step,
    response_step,
)
from tocsin.bridge.paging.pager import Pager
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import EscalationPolicy, Policy
from tocsin.bridge.sla.handlers import warn_unreached
from tocsin.bridge.sla.metrics import SlaMetrics
from tocsin.bridge.sla.paging_hours import step_due
from tocsin.bridge.timers.rows import PARKED, cancel, pending, schedule

log = logging.getLogger(__name__)
StepAt = Callable[[int], Step | None]


@dataclass
class ManualEscalation:
    """The Escalator of the incident service, bound to the runtime's policy and pager."""

    policy: Callable[[], Policy]
    pager: Callable[[], Pager | None]
    metrics: SlaMetrics
    wake: Callable[[datetime], None] | None = None

    def plan(self, conn: Connection, row: Any, now: datetime) -> EscalationPlan:
        """Choose the next step for a locked incident row and move its path's timer past it."""
        policy = self.policy()
        level = int(row.escalation_level or 0)
        escalation = policy.escalation_policies.get(row.escalation_policy or "")
        step = self._next_step(conn, row, escalation, now) if escalation else None
        if step is None:
            log.warning(
                "incident %s: escalated by hand to level %s, but its escalation policy %r has "
                "no step to page",
                row.id,
                level + 1,
                row.escalation_policy,
            )
            return EscalationPlan({"escalation_level": level + 1}, {"level": level + 1})
        found = step.reach(policy, now)
        warn_unreached(row.id, step, found, self.metrics, row.priority)
        self.metrics.escalations.labels(priority=row.priority).inc()
        level = max(level, step.rank)
        values: dict[str, Any] = {"escalation_level": level}
        if step.major:
            values["major"] = True
        data = {**step.event_data(found), "level": level}
        return EscalationPlan(values, data, found.targets)

    def page(self, conn: Connection, row: Any, event: Event, plan: EscalationPlan) -> None:
        """Page the plan's targets for the incident.escalated event, in the same transaction."""
        pager = self.pager()
        if pager is None:
            log.warning("incident %s: no pager configured; the escalation paged nobody", row.id)
        elif plan.targets:
            pager.page(
                conn,
                incident_id=row.id,
                event_id=event.id,
                targets=plan.targets,
                now=event.occurred_at,
            )

    def _next_step(
        self, conn: Connection, row: Any, escalation: EscalationPolicy, now: datetime
    ) -> Step | None:
        policy = self.policy()

        def due_of(step: Step) -> datetime:
            return step_due(policy, escalation, row, step)

        if row.status == "triggered":
            step = self._pull_forward(
                conn,
                row,
                "escalation",
                lambda i: response_step(escalation, i),
                due_of,
                now,
                escalation,
            )
            if step is not None or escalation.steps:
                return step or last_response_step(escalation)
        step = self._pull_forward(
            conn,
            row,
            "resolution_step",
            lambda i: resolution_step(escalation, i, row.priority),
            due_of,
            now,
        )
        return (
            step or last_resolution_step(escalation, row.priority) or last_response_step(escalation)
        )

    def _pull_forward(
        self,
        conn: Connection,
        row: Any,
        kind: str,
        step_at: StepAt,
        due_of: Callable[[Step], datetime],
        now: datetime,
        repeating: EscalationPolicy | None = None,
    ) -> Step | None:
        """Take the step a path's pending timer waits for; schedule the one after it instead."""
        waiting = pending(conn, incident_id=row.id, kinds=(kind,))
        if not waiting:
            return None
        cancel(conn, incident_id=row.id, kinds=(kind,))
        step = step_at(int(waiting[0].payload.get("step", 0)))
        if step is None:
            return None
        following = step_at(step.index + 1)
        # Repeats of the last response step already in the past are skipped, as the timer does.
        while (
            repeating is not None
            and following is not None
            and following.index >= len(repeating.steps)
            and due_of(following) <= now
        ):
            following = step_at(following.index + 1)
        if following is not None:
            self._schedule(conn, row, kind, waiting[0].subject, following, due_of(following), now)
        return step

    def _schedule(
        self,
        conn: Connection,
        row: Any,
        kind: str,
        subject: str | None,
        step: Step,
        due: datetime,
        now: datetime,
    ) -> None:
        payload: dict[str, Any] = {"step": step.index}
        if row.paused:
            # Parked like the paused incident's other timers, with the time it will have left.
            left = due - as_utc(row.paused_at or now)
            payload["parked_seconds"] = max(timedelta(0), left).total_seconds()
            due = PARKED
        schedule(conn, kind, due, now=now, incident_id=row.id, subject=subject, payload=payload)
        if self.wake is not None and due < PARKED:
            self.wake(due)
