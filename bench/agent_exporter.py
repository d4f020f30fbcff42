"""The real agent under the benchmark's control: start it, then run cycles on command.

Run as `python -m bench.agent_exporter CONFIG TIMINGS`. It builds the agent as
`tocsin-agent run` does (bundled rules, /metrics server, rule evaluation, state file, garbage
collector settled), prints `ready PORT`, then reads commands on stdin:
  cycles N   run N agent cycles back to back, write the seconds each cycle and each sampler
             pass took to TIMINGS (2N native doubles), answer `done`
  quit       stop the agent and exit
Between commands the agent only serves /metrics, so scrapes can be measured alone. The
timings live in arrays allocated before start-up is reported, so they do not count as growth.
"""

from __future__ import annotations

import sys
import time
from array import array
from pathlib import Path

from tocsin.agent.config import SamplerConfig, load_config
from tocsin.agent.daemon import Agent, SamplerLike, production_sampler
from tocsin.agent.gctune import settle
from tocsin.agent.sample import Sample

MAX_CYCLES = 10_000


class RecordingSampler:
    """The production sampler, writing how long each pass took into a preallocated array."""

    def __init__(self, inner: SamplerLike) -> None:
        self.inner = inner
        self.durations = array("d", bytes(8 * MAX_CYCLES))
        self.count = 0

    def sample(self) -> Sample:
        sample = self.inner.sample()
        if self.count < MAX_CYCLES:
            self.durations[self.count] = sample.duration_seconds
            self.count += 1
        return sample

    def close(self) -> None:
        self.inner.close()


def main(config_path: str, timings_path: str) -> int:
    """Start the agent, obey commands on stdin, stop on `quit` or end of input."""
    samplers: list[RecordingSampler] = []

    def factory(config: SamplerConfig) -> SamplerLike:
        samplers.append(RecordingSampler(production_sampler(config)))
        return samplers[-1]

    agent = Agent(load_config(Path(config_path)), sampler_factory=factory)
    agent.start()
    agent.tick()
    settle(agent.series_count)
    assert agent.server is not None, "the config must set listen"
    cycles = array("d", bytes(8 * MAX_CYCLES))
    print(f"ready {agent.server.port}", flush=True)
    try:
        for line in sys.stdin:
            command = line.split()
            if command[:1] == ["cycles"]:
                count = min(int(command[1]), MAX_CYCLES)
                recorder = samplers[-1]
                recorder.count = 0
                for index in range(count):
                    started = time.perf_counter()
                    agent.tick()
                    cycles[index] = time.perf_counter() - started
                with open(timings_path, "wb") as out:
                    cycles[:count].tofile(out)
                    recorder.durations[:count].tofile(out)
                print("done", flush=True)
            elif command[:1] == ["quit"]:
                break
    finally:
        agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
