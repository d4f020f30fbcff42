"""The reporter's answer to the satisfaction survey: a score 1-5 and a comment, recorded once.

The score becomes the incident's satisfaction, marked as the reporter's (a score staff type at
closing is marked as staff's, and never replaces the reporter's own). A low score is for the
team's manager to hear of; who that is, or why nobody, is decided here and kept in the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.incidents.events import Event, EventHook, record_event
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import lock_incident
from tocsin.bridge.store.schema import incidents

LOW_SCORE = 2  # this score or less tells the team's manager
COMMENT_LIMIT = 4000


@dataclass(frozen=True)
class Answer:
    """A reporter's survey answer, checked: the score 1-5 and a comment (may be empty)."""

    score: int
    comment: str = ""


def parse_answer(score: object, comment: object) -> Answer:
    """Return a valid answer from form values, or raise InvalidInput naming the field."""
    text = str(score).strip() if score is not None else ""
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise InvalidInput("score must be a whole number from 1 to 5", field="score")
    words = str(comment or "").strip()
    if len(words) > COMMENT_LIMIT:
        raise InvalidInput(f"comment is longer than {COMMENT_LIMIT} characters", field="comment")
    if "\x00" in words:
        raise InvalidInput("comment holds a NUL character", field="comment")
    return Answer(int(text), words)


def manager_to_tell(policy: Policy, team: str | None) -> tuple[str | None, str | None]:
    """Return (manager, None) for a team's manager, or (None, why there is nobody to tell)."""
    if not team:
        return None, "the incident has no team"
    found = policy.teams.get(team)
    if found is None:
        return None, f"team {team!r} is not in the policy"
    if found.manager is None:
        return None, f"team {team!r} has no manager; set teams.{team}.manager in the policy"
    if found.manager not in policy.people:
        return None, f"manager {found.manager!r} of team {team!r} is not in the policy"
    return found.manager, None


def record_answer(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    answer: Answer,
    *,
    now: datetime,
    policy: Policy,
) -> Event:
    """Record the reporter's score as the incident's satisfaction and its event in the timeline."""
    row = lock_incident(conn, incident_id)
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(satisfaction=answer.score, satisfaction_by="reporter", updated_at=now)
    )
    data: dict[str, Any] = {"score": answer.score, "comment": answer.comment, "by": "reporter"}
    if answer.score <= LOW_SCORE:
        manager, missing = manager_to_tell(policy, row.team)
        data |= {"manager_paged": manager} if manager else {"manager_missing": missing}
    return record_event(
        conn,
        hooks,
        incident_id=incident_id,
        kind="incident.survey_answered",
        actor=None,
        now=now,
        data=data,
    )
