"""Broken agent config files through the real command: exit 78 and one line naming file, line, key.

Each file goes through `tocsin-agent check-config` (and a few through `run`) as a subprocess,
exactly as an operator would meet it: no traceback, the path of the file at fault, the line,
and the key to fix.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import config_faults
from tests.config_faults import (
    ANCHORS,
    UNREADABLE,
    Broken,
    not_a_readable_file,
    run_cli,
    write,
)

MISSING = "/nonexistent/tocsin"


def alias_bomb(key: str) -> str:
    """YAML whose `key` expands to 9**8 strings through nested aliases (a "billion laughs")."""
    return "labels: {x: [" + ANCHORS + "]}\n" + f"{key}: [*h]\n"


CASES = [
    Broken("bad-yaml", "interval: 10s\nlabels: {env: prod\n", 3, None),
    Broken("tab-indent", "push:\n\turl: http://bridge:8080\n", 2, None),
    Broken("top-level-list", "- interval\n- 10s\n", None, None),
    Broken("top-level-scalar", "just words\n", None, None),
    Broken("unknown-key", "interval: 10s\nintervall: 5s\n", 2, "intervall"),
    Broken("unknown-push-key", "push:\n  url: http://bridge:8080\n  tokn: x\n", 3, "tokn"),
    Broken("duplicate-key", "interval: 10s\ninterval: 20s\n", 2, None),
    Broken("wrong-type-interval", "interval: {every: 10s}\n", 1, "interval"),
    Broken("wrong-type-labels", "labels: [env, prod]\n", 1, "labels"),
    Broken("wrong-type-push", "push: http://bridge:8080\n", 1, "push"),
    Broken("wrong-type-rules", "rules: 12\n", 1, "rules"),
    Broken("bad-duration", "interval: 10 parsecs\n", 1, "interval"),
    Broken("negative-duration", "interval: -5s\n", 1, "interval"),
    Broken("huge-duration", "interval: 99999999999999w\n", 1, "interval"),
    Broken("infinite-number", "interval: .inf\n", 1, "interval"),
    Broken("bad-size", "spool:\n  dir: spool\n  max_bytes: lots\n", 3, "max_bytes"),
    Broken("bad-port", "listen: 127.0.0.1:99999\n", 1, "listen"),
    Broken("bad-url", "push:\n  url: ftp://bridge\n", 2, "url"),
    Broken("no-url", "push:\n  token: abc\n", 2, "url"),  # the line where push's mapping starts
    Broken("bad-label-name", "labels: {bad-name: x}\n", 1, "labels"),
    Broken("bad-regex", "disks:\n  include: '(unclosed'\n", 2, "include"),
    Broken("missing-token-file", f"push:\n  url: http://b:1\n  token_file: {MISSING}\n", 3,
           "token_file"),
    Broken("token-file-is-dir", "push:\n  url: http://b:1\n  token_file: .\n", 3, "token_file"),
    Broken("token-and-token-file", "push:\n  url: http://b:1\n  token: a\n  token_file: t\n", 4,
           "token_file"),
    Broken("missing-rules-file", f"rules: [{MISSING}.yml]\n", None, None, "rules"),
    Broken("unknown-metric", "rules:\n  - {name: x, metric: tocsin_bogus, op: '>', threshold: 1}\n",
           2, "metric"),
    Broken("bad-operator", "rules:\n  - {name: x, metric: tocsin_load1, op: '=>', threshold: 1}\n",
           2, "op"),
    Broken("python-tag", "interval: !!python/object/apply:os.system ['true']\n", 1, None),
    Broken("alias-bomb-in-rules", alias_bomb("rules"), None, "rule #1"),
    Broken("alias-bomb-in-interval", alias_bomb("interval"), 2, "interval"),
    Broken("alias-bomb-in-listen", alias_bomb("listen"), 2, "listen"),
    Broken("secret-token-as-list", "push:\n  url: http://b:1\n  token: [hunter2-s3cr3t]\n", 3,
           "token"),
    Broken("binary-garbage", b"\x00\xff\xfe\x89PNG\r\n\x1a\n" + bytes(range(256)), None, None),
    Broken("latin-1", "labels: {env: caf\xe9}\n".encode("latin-1"), None, None),
    # What a bridge would refuse is refused here, before anything is sent.
    Broken("label-value-over-bridge-limit", "labels: {env: '" + "x" * 8193 + "'}\n", 1, "labels"),
    Broken("nul-in-rule-label", 'rules:\n  - {name: x, metric: tocsin_load1, threshold: 1, '
           'labels: {team: "a\\0b"}}\n', 2, "labels"),
    Broken("zero-batch", "push:\n  url: http://b:1\n  max_batch: 0\n", 3, "max_batch"),
]  # fmt: skip
RULE_FILES = [
    Broken("rules-bad-yaml", "groups: [\n", 2, None, "rules"),
    Broken("rules-unknown-key", "rules:\n  - {name: x, metric: tocsin_load1, op: '>', "
           "threshold: 1, colour: red}\n", 2, "colour", "rules"),
    Broken("rules-binary", b"\xff\xfe\x00", None, None, "rules"),
]  # fmt: skip


def assert_one_clear_line(
    result: subprocess.CompletedProcess[str], at_fault: Path, case: Broken
) -> None:
    """The shared promise, and the push token's value never shown."""
    config_faults.assert_one_clear_line(result, at_fault, case)
    assert "hunter2" not in result.stderr


def agent(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STATE_DIRECTORY": str(cwd / "state")}
    return run_cli("tocsin.agent.cli", *args, cwd=cwd, env=env, timeout=30)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_check_config_names_the_fault(tmp_path: Path, case: Broken) -> None:
    config = write(tmp_path / "agent.yml", case.content)
    result = agent("check-config", str(config), cwd=tmp_path)
    at_fault = Path(MISSING + ".yml") if case.at_fault == "rules" else config
    assert_one_clear_line(result, at_fault, case)


@pytest.mark.parametrize("case", RULE_FILES, ids=lambda case: case.name)
def test_a_broken_rules_file_is_named_with_its_line(tmp_path: Path, case: Broken) -> None:
    rules = write(tmp_path / "rules.yml", case.content)
    config = write(tmp_path / "agent.yml", "rules: [rules.yml]\n")
    assert_one_clear_line(agent("check-config", str(config), cwd=tmp_path), rules, case)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name in ("bad-yaml", "unknown-key", "missing-token-file", "latin-1")],
    ids=lambda case: case.name,
)
def test_run_refuses_a_broken_config_before_starting(tmp_path: Path, case: Broken) -> None:
    config = write(tmp_path / "agent.yml", case.content)
    assert_one_clear_line(agent("run", "--config", str(config), cwd=tmp_path), config, case)


@pytest.mark.parametrize("command", [["check-config"], ["run", "--config"]])
@pytest.mark.parametrize("content", [b"", b"\n   \n\n", b"# interval: 10s\n# push: {}\n"])
def test_an_empty_config_is_refused_not_run_on_defaults(
    tmp_path: Path, command: list[str], content: bytes
) -> None:
    config = write(tmp_path / "agent.yml", content)
    result = agent(*command, str(config), cwd=tmp_path)
    assert_one_clear_line(result, config, Broken("empty", content, None, None))
    assert result.stderr.strip().endswith(
        f"{config}: the file is empty; write at least one key, "
        "or run without --config to use the defaults"
    )


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("state_dir", "state_dir: {bad}\n"),
        ("state_dir", "state_dir: /proc/tocsin-agent\n"),
        ("spool.dir", "push: {{url: 'http://127.0.0.1:1'}}\nspool: {{dir: {bad}}}\n"),
    ],
)
def test_run_refuses_a_directory_it_cannot_write_before_starting(
    tmp_path: Path, key: str, text: str
) -> None:
    bad = write(tmp_path / "file", "x") / "sub"  # root cannot create a directory under a file
    config = write(tmp_path / "agent.yml", "listen: 127.0.0.1:0\n" + text.format(bad=bad))
    result = agent("run", "--config", str(config), cwd=tmp_path)
    assert_one_clear_line(result, config, Broken(key, text, None, f"'{key}'"))
    path = str(bad) if "{bad}" in text else "/proc/tocsin-agent"
    assert f"'{key}' {path} cannot be created or written" in result.stderr
    assert "serving /metrics" not in result.stderr


@pytest.mark.parametrize("command", [["check-config"], ["run", "--config"]])
@pytest.mark.parametrize("kind", UNREADABLE)
def test_a_config_path_that_is_not_a_readable_file_is_named(
    tmp_path: Path, command: list[str], kind: str
) -> None:
    path = not_a_readable_file(tmp_path, kind, "agent.yml", "interval: 10s\n")
    result = agent(*command, str(path), cwd=tmp_path)
    assert_one_clear_line(result, path, Broken(kind, "", None, None))
