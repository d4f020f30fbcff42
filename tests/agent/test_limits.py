"""The bridge's ingest limits, enforced by the agent before sending, and the delivery settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tocsin.agent.cli import main
from tocsin.agent.config import load_config
from tocsin.agent.errors import ConfigError
from tocsin.agent.evaluator import AlertState
from tocsin.agent.limits import MAX_LABELS, MAX_VALUE, fit
from tocsin.agent.push import WireAlert
from tocsin.bridge.ingest import parse

ENV = {"HOME": "/home/test"}


def rule(extra: str = "") -> str:
    return "rules:\n  - {name: X, metric: tocsin_load1, threshold: 1" + extra + "}\n"


def mapping(prefix: str, count: int) -> str:
    return "{" + ", ".join(f"{prefix}{i}: v" for i in range(count)) + "}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yml"
    path.write_text(text)
    return path


def test_the_agent_uses_the_bridges_own_limits() -> None:
    from tocsin.agent import limits

    assert (limits.MAX_LABELS, limits.MAX_NAME, limits.MAX_VALUE) == (
        parse.MAX_LABELS,
        parse.MAX_NAME,
        parse.MAX_VALUE,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "labels: {env: '%s'}\n" % ("x" * (MAX_VALUE + 1)),
            f"'labels' has env: the text is {MAX_VALUE + 1} characters; a bridge accepts",
        ),
        ('labels: {env: "a\\0b"}\n', "'labels' has env: the text contains a NUL"),
        (
            rule(', labels: {team: "a\\0b"}'),
            ":2: rule 'X': 'labels' has team: the text contains a NUL",
        ),
        (
            rule(", annotations: {summary: '" + "y" * (MAX_VALUE + 1) + "'}"),
            ":2: rule 'X': 'annotations' has summary: the text is",
        ),
        (
            rule(", labels: " + mapping("l", MAX_LABELS + 1)),
            f"'labels' has {MAX_LABELS + 1} entries; a bridge accepts {MAX_LABELS}",
        ),
        (
            "labels: " + mapping("c", 60) + "\n" + rule(", labels: " + mapping("r", 40)),
            "rule 'X': its alerts would carry 104 labels",
        ),
        ("push: {url: 'http://b', max_batch: 0}\n", "'push.max_batch' is 0; expected a whole"),
        ("push: {url: 'http://b', max_rate: fast}\n", "'push.max_rate' is 'fast'; expected"),
        ("spool: {dead_letters: -1}\n", "'spool.dead_letters' is -1"),
    ],
)
def test_check_config_refuses_what_a_bridge_would_refuse(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        load_config(write(tmp_path, text), env=ENV)
    assert expected in str(caught.value)
    assert len(str(caught.value)) < 600


def test_delivery_settings_are_read(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "push: {url: 'http://b', max_batch: 200, max_rate: 50}\nspool: {dead_letters: 20}\n",
        ),
        env=ENV,
    )
    assert config.push is not None
    assert (config.push.max_batch, config.push.max_rate) == (200, 50.0)
    assert config.spool.dead_letters == 20


def state(labels: dict[str, str], annotations: dict[str, str]) -> AlertState:
    return AlertState(
        "X",
        "tocsin_load1",
        tuple(sorted(labels.items())),
        "firing",
        0.0,
        1.0,
        tuple(annotations.items()),
        0.0,
    )


def test_rendered_text_is_fitted_so_the_bridge_takes_the_alert() -> None:
    long = "z" * (MAX_VALUE * 2)
    sent = WireAlert.firing(
        state({"alertname": "X", "mountpoint": "/m\x00nt"}, {"description": long})
    ).postable(0.0, 60.0)
    assert sent["labels"]["mountpoint"] == "/m\ufffdnt"
    assert len(sent["annotations"]["description"]) == MAX_VALUE
    assert sent["annotations"]["description"].endswith("…")
    assert fit("fine") == "fine"
    assert fit("\ud800x") == "?x"


def test_the_dead_letters_command_lists_and_clears(tmp_path: Path) -> None:
    from tocsin.agent.deadletters import DeadLetter, DeadLetters

    config = write(tmp_path, f"state_dir: {tmp_path / 'state'}\nlisten: null\n")
    (tmp_path / "state").mkdir()
    store = DeadLetters(tmp_path / "state" / "dead-letters.jsonl")
    alert = WireAlert((("alertname", "DiskFull"), ("instance", "web1")), (), 1.7e9, 1.7e9 + 60)
    store.add([DeadLetter(1.7e9 + 70, "http_400", "labels.x: too long", alert, True)])

    listed = CliRunner().invoke(main, ["dead-letters", "--config", str(config)])
    assert listed.exit_code == 0
    assert "1 dead letter(s)" in listed.stdout
    assert "http_400  DiskFull (resolved, withheld from re-sends)" in listed.stdout
    assert "reason: labels.x: too long" in listed.stdout

    as_json = CliRunner().invoke(main, ["dead-letters", "--config", str(config), "--json"])
    assert '"reason": "http_400"' in as_json.stdout

    cleared = CliRunner().invoke(main, ["dead-letters", "--config", str(config), "--clear"])
    assert "cleared 1 dead letter(s)" in cleared.stdout
    empty = CliRunner().invoke(main, ["dead-letters", "--config", str(config)])
    assert "no dead letters" in empty.stdout


def test_the_dead_letters_help_says_what_they_are() -> None:
    result = CliRunner().invoke(main, ["dead-letters", "--help"])
    assert result.exit_code == 0
    assert "refused" in result.stdout and "--clear" in result.stdout
