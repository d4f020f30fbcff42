from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.config import parse_config
from tocsin.bridge.platform.notify_settings import NotifySettings


def test_no_notify_section_gives_the_defaults() -> None:
    assert parse_config({}, "bridge.yml").notify == NotifySettings()


def test_notify_section_sets_link_lifetime_and_retries() -> None:
    raw = {
        "notify": {"ack_link_ttl": "2h", "max_attempts": 5, "retry_base": "1s", "retry_cap": "1m"}
    }
    notify = parse_config(raw, "bridge.yml").notify
    assert notify == NotifySettings(
        timedelta(hours=2), 5, timedelta(seconds=1), timedelta(minutes=1)
    )


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"ack_link_ttl": "soon"}, "notify.ack_link_ttl"),
        ({"max_attempts": 0}, "notify.max_attempts: 0 is not a whole number >= 1"),
        ({"retry_cap": "0s"}, "notify.retry_cap: '0s' must be longer than zero"),
        ({"retries": 3}, "notify.retries: unknown key"),
    ],
)
def test_a_bad_notify_setting_names_its_key(notify: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"notify": notify}, "bridge.yml")
    assert message in caught.value.message and caught.value.exit_code == 78
