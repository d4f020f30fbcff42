from __future__ import annotations

import json

import pytest

from tocsin.agent.render import format_value, render_json, render_text
from tocsin.agent.sample import Sample, Series

SAMPLE = Sample(
    taken_at=1_700_000_000.0,
    gauges=(Series("tocsin_filesystem_used_ratio", {"mountpoint": "/", "fstype": "ext4"}, 0.5),),
    counters=(Series("tocsin_network_receive_bytes_total", {"device": "eth0"}, 2048.0),),
    duration_seconds=0.0005,
    notes=("swap unavailable: gone",),
)


def test_text_shows_each_series_on_one_row_in_readable_units() -> None:
    text = render_text(SAMPLE)
    assert text.startswith("Sampled at 2023-11-14T22:13:20.000Z in 0.50 ms\n")
    assert any(
        line.split() == ["tocsin_filesystem_used_ratio", "mountpoint=/,fstype=ext4", "50.0", "%"]
        for line in text.splitlines()
    )
    assert "2.0 KiB" in text
    assert "  swap unavailable: gone" in text


def test_text_of_a_first_pass_says_why_gauges_are_missing() -> None:
    assert "rates need two passes" in render_text(Sample(taken_at=0.0))


def test_json_round_trips_every_series() -> None:
    document = json.loads(render_json(SAMPLE))
    assert document["taken_at"] == "2023-11-14T22:13:20.000Z"
    assert document["gauges"] == [
        {
            "name": "tocsin_filesystem_used_ratio",
            "labels": {"mountpoint": "/", "fstype": "ext4"},
            "value": 0.5,
        }
    ]
    assert document["counters"][0]["value"] == 2048.0
    assert document["notes"] == ["swap unavailable: gone"]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("tocsin_cpu_usage_ratio", 0.125, "12.5 %"),
        ("tocsin_disk_read_bytes_total", 512, "512 B"),
        ("tocsin_disk_read_bytes_total", 3 * 1024**3, "3.0 GiB"),
        ("tocsin_cpu_seconds_total", 1234.5, "1,234.50 s"),
        ("tocsin_disk_reads_completed_total", 1234567, "1,234,567"),
        ("tocsin_load1", 0.5, "0.50"),
    ],
)
def test_values_are_shown_in_the_unit_their_name_declares(
    name: str, value: float, shown: str
) -> None:
    assert format_value(name, value) == shown
