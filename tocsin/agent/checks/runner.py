"""Run service checks beside the cycle: each on a thread of its own, each bounded by its timeout.

The cycle never waits for a check. `series()` publishes the last result of each check and
starts the ones that are due. A check still running past its timeout counts as failed at once
("no answer within 5s"); it is not started again until its stuck run comes back, so a hung
NFS stat or a black-holed port costs one thread, not one per cycle. A failure is logged when it
appears and when it clears, never every run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tocsin.agent.checks import DURATION, UP
from tocsin.agent.checks.probes import PROBES, Outcome
from tocsin.agent.checks.spec import CheckSpec
from tocsin.agent.sample import Series

log = logging.getLogger(__name__)


@dataclass
class _State:
    """One check's runs: the one in progress, if any, and the last result."""

    running: bool = False
    started: float = 0.0
    due: float = 0.0
    timed_out: bool = False
    outcome: Outcome | None = None
    duration: float = 0.0
    problem: str = ""


class Checks:
    """The configured checks and their latest results; `series()` is all the cycle calls."""

    def __init__(
        self,
        specs: Sequence[CheckSpec],
        clock: Callable[[], float] = time.monotonic,
        probes: Mapping[str, Callable[[CheckSpec], Outcome]] = PROBES,
    ) -> None:
        self.specs = tuple(specs)
        self._clock = clock
        self._probes = probes
        self._lock = threading.Lock()
        self._states = {spec.name: _State() for spec in self.specs}
        self._labels = {
            spec.name: ({"check": spec.name, "kind": spec.label}, {"check": spec.name})
            for spec in self.specs
        }

    def series(self) -> tuple[Series, ...]:
        """Return each check's last result as gauges, and start the checks that are due."""
        now = self._clock()
        out: list[Series] = []
        with self._lock:
            for spec in self.specs:
                state = self._states[spec.name]
                if state.running and not state.timed_out and now - state.started > spec.timeout:
                    state.timed_out = True
                    problem = f"no answer within {spec.timeout:g}s"
                    self._settle(spec, state, Outcome(False, problem=problem), now)
                elif not state.running and now >= state.due:
                    self._start(spec, state, now)
                if state.outcome is not None:
                    out += self._gauges(spec, state)
        return tuple(out)

    def _gauges(self, spec: CheckSpec, state: _State) -> list[Series]:
        assert state.outcome is not None
        kind, name = self._labels[spec.name]
        gauges = [
            Series(UP, kind, 1.0 if state.outcome.up else 0.0),
            Series(DURATION, kind, state.duration),
        ]
        gauges += [Series(metric, name, value) for metric, value in state.outcome.values.items()]
        return gauges

    def _start(self, spec: CheckSpec, state: _State, now: float) -> None:
        state.running, state.started, state.timed_out = True, now, False
        state.due = now + spec.interval
        thread = threading.Thread(
            target=self._run, args=(spec, state), name=f"tocsin-check-{spec.name}", daemon=True
        )
        thread.start()

    def _run(self, spec: CheckSpec, state: _State) -> None:
        try:
            outcome = self._probes[spec.kind](spec)
        except Exception as exc:  # a probe's fault is the check's failure, never the thread's end
            outcome = Outcome(False, problem=f"{type(exc).__name__}: {exc}")
        with self._lock:
            state.running = False
            self._settle(spec, state, outcome, self._clock())

    def _settle(self, spec: CheckSpec, state: _State, outcome: Outcome, now: float) -> None:
        """Publish a result; log the failure when it appears or changes, and its end."""
        state.outcome, state.duration = outcome, max(0.0, now - state.started)
        if outcome.problem and outcome.problem != state.problem:
            log.warning("check %s (%s) failed: %s", spec.name, spec.label, outcome.problem)
        elif not outcome.problem and state.problem:
            log.warning("check %s (%s) passes again", spec.name, spec.label)
        state.problem = outcome.problem
