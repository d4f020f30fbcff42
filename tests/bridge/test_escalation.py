from __future__ import annotations

from datetime import timedelta

import pytest

from tocsin.bridge.paging.escalation import may_page, resolution_step, response_step
from tocsin.bridge.paging.oncall import Reach
from tocsin.bridge.policy import load_policy
from tocsin.bridge.policy.model import EscalationPolicy, EscalationStep, Target

OPS = load_policy().escalation_policies["ops"]
MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("index", "after", "notify"),
    [
        (0, 0 * MIN, ["schedule:ops-primary"]),
        (1, 5 * MIN, ["schedule:ops-backup"]),
        (2, 15 * MIN, ["team:experts"]),
        (3, 30 * MIN, ["team:experts"]),  # the last step repeats every 15m
        (5, 60 * MIN, ["team:experts"]),
    ],
)
def test_response_steps_of_the_bundled_policy(
    index: int, after: timedelta, notify: list[str]
) -> None:
    step = response_step(OPS, index)
    assert step is not None
    assert (step.after, [str(t) for t in step.notify]) == (after, notify)


def test_without_repeat_the_response_path_ends_after_its_last_step() -> None:
    policy = EscalationPolicy("once", (EscalationStep(0 * MIN, (Target("person", "ann"),)),))
    assert response_step(policy, 1) is None


def test_repeats_keep_the_rank_of_the_last_step() -> None:
    step = response_step(OPS, 7)
    assert step is not None and step.rank == 2


@pytest.mark.parametrize(
    ("index", "priority", "level", "after"),
    [
        (0, "P1", "expert", timedelta(hours=1)),
        (1, "P2", "major", timedelta(hours=3)),  # 2 h after the expert was engaged
    ],
)
def test_resolution_path_engages_expert_then_major(
    index: int, priority: str, level: str, after: timedelta
) -> None:
    step = resolution_step(OPS, index, priority)
    assert step is not None
    assert (step.level, step.after, step.major) == (level, after, level == "major")


def test_resolution_path_does_not_apply_to_p3() -> None:
    assert resolution_step(OPS, 0, "P3") is None


def test_resolution_steps_rank_above_the_response_path() -> None:
    step = resolution_step(OPS, 1, "P1")
    assert step is not None and step.rank == 4


def test_event_data_names_level_step_and_targets() -> None:
    step = resolution_step(OPS, 0, "P1")
    assert step is not None
    assert step.event_data(Reach((Target("person", "expert"),))) == {
        "level": 3,
        "name": "expert",
        "path": "resolution",
        "step": 0,
        "targets": ["person:expert"],
    }


@pytest.mark.parametrize(
    ("path_index", "status", "paused", "pages"),
    [
        ("response", "triggered", False, True),
        ("response", "acknowledged", False, False),
        ("response", "triggered", True, False),
        ("resolution", "acknowledged", False, True),
        ("resolution", "resolved", False, False),
    ],
)
def test_step_pages_only_while_the_incident_still_needs_it(
    path_index: str, status: str, paused: bool, pages: bool
) -> None:
    step = response_step(OPS, 1) if path_index == "response" else resolution_step(OPS, 0, "P1")
    assert step is not None
    assert may_page(step, status, paused) is pages
