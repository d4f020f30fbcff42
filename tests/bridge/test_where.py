"""Positions in a bridge config: secret keys' values never quoted, long keys cut short."""

from __future__ import annotations

import pytest

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform.where import HIDDEN, Where
from tocsin.common.yamlsource import load_text


@pytest.mark.parametrize(
    "path",
    ["tokens[0].value", "smtp.password", "secret_key", "channels.chat.url", "channels.x.secret"],
)
def test_a_secret_key_value_is_never_shown(path: str) -> None:
    assert Where("bridge.yml", path).show("hunter2") == HIDDEN


@pytest.mark.parametrize("path", ["log_level", "public_url", "tokens[0].role", "smtp.port"])
def test_other_values_are_shown(path: str) -> None:
    assert Where("bridge.yml", path).show("hunter2") == "'hunter2'"


def test_a_long_key_is_cut_in_the_path_of_every_message() -> None:
    raw = load_text(f"{'k' * 500}: 1\n", "x.yml", error=ConfigError)
    message = Where("x.yml").key(raw, "k" * 500).error("unknown key").message
    assert message == f"x.yml:1: {'k' * 39}…: unknown key"
