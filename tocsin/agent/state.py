"""Alert state on disk, so a restart neither re-fires a firing alert nor forgets a pending one."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tocsin.agent.errors import NewerState, StorageError
from tocsin.agent.evaluator import AlertState, LabelSet
from tocsin.agent.fsutil import write_atomic

log = logging.getLogger(__name__)
# The format this agent writes. A file without a version is version 1 (every agent wrote 1); a
# newer one is refused (NewerState), since its alerts may carry what this agent cannot read.
VERSION = 1


def _encode(state: AlertState) -> dict[str, Any]:
    return {
        "rule": state.rule,
        "metric": state.metric,
        "labels": dict(state.labels),
        "status": state.status,
        "active_since": state.active_since,
        "fired_at": state.fired_at,
        "value": state.value,
        "annotations": dict(state.annotations),
    }


def _decode(raw: Mapping[str, Any]) -> AlertState:
    return AlertState(
        rule=str(raw["rule"]),
        metric=str(raw["metric"]),
        labels=tuple(sorted((str(k), str(v)) for k, v in raw["labels"].items())),
        status="firing" if raw["status"] == "firing" else "pending",
        active_since=float(raw["active_since"]),
        value=float(raw["value"]),
        annotations=tuple((str(k), str(v)) for k, v in raw["annotations"].items()),
        fired_at=None if raw["fired_at"] is None else float(raw["fired_at"]),
    )


class StateStore:
    """Read and atomically replace the file holding the active alerts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[LabelSet, AlertState]:
        """Return the saved alerts; none when there is no file, a damaged file is set aside."""
        try:
            document = json.loads(self.path.read_bytes())
            self._check_version(document.get("version", 1))
            states = [_decode(raw) for raw in document["alerts"]]
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read alert state: {exc.strerror}") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self.path.with_name(self.path.name + ".damaged")
            os.replace(self.path, aside)
            log.warning("alert state %s is damaged (%s); moved to %s", self.path, exc, aside)
            return {}
        return {state.labels: state for state in states}

    def _check_version(self, version: object) -> None:
        """Refuse a file of a newer format; a version that is no number is damage."""
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f"version is {version!r}")
        if version > VERSION:
            raise NewerState(
                f"{self.path}: alert state in format {version}, written by a newer "
                f"tocsin-agent; this one reads format {VERSION} at most. Run the newer agent "
                "again, or move the file aside to start with no alert state (active alerts "
                "then fire anew)"
            )

    def save(self, states: Mapping[LabelSet, AlertState], now: float) -> None:
        """Replace the file with `states`; a crash leaves either the old or the new file."""
        document = {
            "version": VERSION,
            "saved_at": now,
            "alerts": [_encode(state) for state in states.values()],
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(document, indent=1).encode())
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot save alert state: {exc.strerror}") from exc
