"""Values quoted in config errors: short whatever their size, never a secret key's value."""

from __future__ import annotations

import pytest

from tocsin.bridge.platform.yamlsource import HIDDEN, SHOWN_CHARS, Where, load_yaml, shown

BOMB = (
    "[&a [lol, lol, lol, lol, lol, lol, lol, lol, lol], "
    + ", ".join(
        f"&{name} [" + ", ".join([f"*{previous}"] * 9) + "]"
        for name, previous in zip("bcdefgh", "abcdefg", strict=True)
    )
    + ", *h]"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("info", "'info'"),
        (42, "42"),
        ("x" * 100, "'" + "x" * 38 + "…"),
        (list(range(100)), "[0, 1, 2, 3, ...]"),
    ],
)
def test_shown_quotes_a_value_in_at_most_forty_characters(value: object, expected: str) -> None:
    assert shown(value) == expected
    assert len(shown(value)) <= SHOWN_CHARS


def test_shown_cuts_an_alias_bomb_without_rendering_it() -> None:
    bomb = load_yaml(f"level: {BOMB}\n", "x.yml")
    text = shown(bomb)
    assert len(text) <= SHOWN_CHARS and text.endswith("…")


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
    raw = load_yaml(f"{'k' * 500}: 1\n", "x.yml")
    message = Where("x.yml").key(raw, "k" * 500).error("unknown key").message
    assert message == f"x.yml:1: {'k' * 39}…: unknown key"
