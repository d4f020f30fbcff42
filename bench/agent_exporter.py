"""The real agent under the benchmark's control: start it, then run cycles on command.

Run as `python -m bench.agent_exporter CONFIG`. It builds the agent exactly as
`tocsin-agent run` does (bundled rules, /metrics server, rule evaluation, state file), prints
`ready PORT`, then reads commands on stdin:
  cycles N   run N agent cycles back to back; answer one JSON line of per-cycle timings
  quit       stop the agent and exit
Between commands the agent only serves /metrics, so scrapes can be measured alone.
"""

from __future__ import annotations

import json
import sys
import time
from array import array
from pathlib import Path

from agent.config import SamplerConfig, load_config
from agent.daemon import Agent, SamplerLike, production_sampler
from agent.sample import Sample


class RecordingSampler:
    """The production sampler, remembering how long each pass took."""

    def __init__(self, inner: SamplerLike) -> None:
        self.inner = inner
        # Plain doubles: 10,000 timings must not show up in the RSS being measured.
        self.durations = array("d")

    def sample(self) -> Sample:
        sample = self.inner.sample()
        self.durations.append(sample.duration_seconds)
        return sample

    def close(self) -> None:
        self.inner.close()


def quantiles(values: array[float]) -> dict[str, float]:
    """Return the median and the 99th percentile."""
    ordered = sorted(values)
    return {
        "median": ordered[len(ordered) // 2],
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def main(config_path: str) -> int:
    """Start the agent, obey commands on stdin, stop on `quit` or end of input."""
    samplers: list[RecordingSampler] = []

    def factory(config: SamplerConfig) -> SamplerLike:
        samplers.append(RecordingSampler(production_sampler(config)))
        return samplers[-1]

    agent = Agent(load_config(Path(config_path)), sampler_factory=factory)
    agent.start()
    agent.tick()
    assert agent.server is not None, "the config must set listen"
    print(f"ready {agent.server.port}", flush=True)
    try:
        for line in sys.stdin:
            command = line.split()
            if command[:1] == ["cycles"]:
                recorder = samplers[-1]
                recorder.durations = array("d")
                cycles = array("d")
                for _ in range(int(command[1])):
                    started = time.perf_counter()
                    agent.tick()
                    cycles.append(time.perf_counter() - started)
                report = {"cycle": quantiles(cycles), "sample": quantiles(recorder.durations)}
                print(json.dumps(report), flush=True)
            elif command[:1] == ["quit"]:
                break
    finally:
        agent.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
