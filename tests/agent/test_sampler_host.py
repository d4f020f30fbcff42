"""The real Sampler on the machine running the tests: every source psutil has here works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tocsin.agent.sample import Sample
from tocsin.agent.sampler import Sampler


@pytest.fixture(scope="module")
def samples() -> Iterator[tuple[Sample, Sample]]:
    sampler = Sampler()
    first = sampler.sample()
    second = sampler.sample()
    sampler.close()
    yield first, second


def test_real_sampler_reads_cpu_memory_and_load(samples: tuple[Sample, Sample]) -> None:
    first, _ = samples
    assert any(s.name == "tocsin_cpu_seconds_total" for s in first.counters)
    for name in ("tocsin_memory_used_ratio", "tocsin_load1", "tocsin_load_per_cpu"):
        assert list(first.gauge(name)), name


def test_real_ratios_lie_between_zero_and_one(samples: tuple[Sample, Sample]) -> None:
    _, second = samples
    ratios = [s.value for s in second.gauges if s.name.endswith("_ratio")]
    assert ratios
    assert all(0.0 <= value <= 1.0 for value in ratios)
