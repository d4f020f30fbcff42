from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify.channels import setting_secret


def test_a_secret_may_live_in_a_file_outside_the_policy(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("https://oapi.dingtalk.com/robot/send?access_token=T\n")
    settings = {"url_file": str(tmp_path / "url")}
    assert (
        setting_secret(settings, "url", channel="ding")
        == "https://oapi.dingtalk.com/robot/send?access_token=T"
    )


def test_an_unreadable_secret_file_names_the_channel_and_path_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        setting_secret({"secret_file": str(tmp_path / "missing")}, "secret", channel="ding")
    assert caught.value.message.startswith(
        f"channel 'ding': cannot read secret_file {tmp_path}/missing"
    )


def test_an_optional_secret_may_be_absent() -> None:
    assert setting_secret({}, "secret", channel="ding", required=False) is None
    with pytest.raises(ConfigError):
        setting_secret({}, "url", channel="ding")
