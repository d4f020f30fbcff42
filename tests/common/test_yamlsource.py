"""YAML read with lines kept: values quoted short, keys checked, faults raised as the caller's error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config_faults import BOMB
from tocsin.common.yamlsource import SHOWN_CHARS, LinedDict, load_file, load_text, shown


class Fault(Exception):
    """The caller's own config error, as each program passes it."""


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
    bomb = load_text(f"level: {BOMB}\n", "x.yml", error=Fault)
    text = shown(bomb)
    assert len(text) <= SHOWN_CHARS and text.endswith("…")


def test_every_key_and_the_mapping_keep_their_line() -> None:
    document = load_text("a: 1\nb:\n  c: 2\n", "x.yml", error=Fault)
    assert isinstance(document, LinedDict)
    assert (document.line_of("a"), document.line_of("b"), document.line_of("zz")) == (1, 2, 1)
    assert document["b"].line_of("c") == 3


@pytest.mark.parametrize("key", ["true", "null", "2026-01-01", "[a, b]"])
def test_names_only_refuses_a_key_that_is_not_a_name(key: str) -> None:
    with pytest.raises(Fault, match=r"x.yml:1: invalid YAML: mapping key .* is not a name"):
        load_text(f"{key}: 1\n", "x.yml", error=Fault)


@pytest.mark.parametrize(("key", "read"), [("true", "True"), ("null", "None"), ("7", "7")])
def test_any_scalar_key_is_read_as_its_text(key: str, read: str) -> None:
    assert list(load_text(f"{key}: 1\n", "x.yml", error=Fault, any_scalar_key=True)) == [read]


def test_a_list_key_is_refused_even_when_scalars_are_allowed() -> None:
    with pytest.raises(Fault, match="is not a name"):
        load_text("[a, b]: 1\n", "x.yml", error=Fault, any_scalar_key=True)


def test_a_key_written_twice_names_its_second_line() -> None:
    with pytest.raises(Fault, match="x.yml:2: invalid YAML: key 'a' appears twice"):
        load_text("a: 1\na: 2\n", "x.yml", error=Fault)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "file not found"), (b"a: \xff\n", "not UTF-8 text"), ("a: [\n", "invalid YAML")],
)
def test_a_bad_file_is_the_callers_error_naming_it(
    tmp_path: Path, content: str | bytes | None, expected: str
) -> None:
    path = tmp_path / "x.yml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(Fault, match=f"{path}.*{expected}"):
        load_file(path, error=Fault)


def test_a_directory_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(Fault, match=f"{tmp_path}: cannot read: Is a directory"):
        load_file(tmp_path, error=Fault)
