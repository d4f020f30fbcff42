"""A report request that waits in the report process until told: few imports, as it is unpickled there."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.reports.offload import ReportRequest
from tocsin.bridge.store.db import Store

WAIT = 60.0  # generous: a spawned process imports the bridge; every wait polls a condition


@dataclass(frozen=True)
class HeldRequest(ReportRequest):
    """A report that, in the report process, waits until a file appears (at most WAIT)."""

    started: str = ""
    release: str = ""

    def run(self, store: Store) -> SlaReport:
        Path(self.started).touch()
        until = time.monotonic() + WAIT
        while not Path(self.release).exists() and time.monotonic() < until:
            time.sleep(0.01)
        return super().run(store)
