"""Rules: the bundled defaults, validation messages, and annotation templates."""

from __future__ import annotations

import pytest

from tocsin.agent.errors import RuleError
from tocsin.agent.rules import GAUGES, load_bundled_rules, parse_rules_document
from tocsin.agent.templates import Template


def test_bundled_rules_have_warning_and_critical_for_each_resource() -> None:
    levels: dict[str, set[str]] = {}
    for rule in load_bundled_rules():
        levels.setdefault(rule.metric, set()).add(rule.severity)
    expected = {
        "tocsin_cpu_usage_ratio",
        "tocsin_cpu_iowait_ratio",
        "tocsin_memory_used_ratio",
        "tocsin_swap_used_ratio",
        "tocsin_disk_busy_ratio",
        "tocsin_filesystem_used_ratio",
        "tocsin_filesystem_files_used_ratio",
        "tocsin_filesystem_avail_bytes",
        "tocsin_load_per_cpu",
        "tocsin_check_certificate_expiry_seconds",
        "tocsin_filefd_used_ratio",
    }
    assert {
        metric for metric, seen in levels.items() if seen == {"warning", "critical"}
    } == expected


# Gauges that are 0 or 1: nothing between to clear at.
FLAGS = {
    "tocsin_agent_storage_failing",
    "tocsin_agent_watchdog",
    "tocsin_timex_sync_status",
    "tocsin_agent_dead_letters",
    "tocsin_agent_receiver_auth_failed",
    "tocsin_filesystem_readonly",
    "tocsin_check_up",
    # Counts where 0 is the one good level: disks an array lacks or has failed, failed units.
    "tocsin_md_disks_missing",
    "tocsin_md_disks",
    "tocsin_systemd_units_failed",
    # An event, not a level: up for under 10 minutes means it rebooted.
    "tocsin_uptime_seconds",
}


def test_bundled_rules_carry_summary_description_and_runbook() -> None:
    for rule in load_bundled_rules():
        assert [key for key, _ in rule.annotations] == ["summary", "description", "runbook_url"]
        # A function over a window (increase, predict_linear) smooths by its window already.
        assert rule.clear != rule.threshold or rule.metric in FLAGS or rule.function


def one_rule(body: str) -> str:
    return "rules:\n  - " + body + "\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "{name: X, metric: tocsin_cpu, threshold: 1}",
            "rule 'X': 'metric' is 'tocsin_cpu'; use one of",
        ),
        (
            "{name: X, metric: tocsin_load1, threshold: high}",
            "'threshold' is 'high'; expected a number",
        ),
        ("{name: X, metric: tocsin_load1, threshold: 1, op: '=='}", "'op' is '=='; use one of"),
        ("{name: X, metric: tocsin_load1, threshold: 1, for: 5 minutes}", "'for' is '5 minutes'"),
        (
            "{name: X, metric: tocsin_load1, threshold: 1, clear: 2}",
            "'clear' is 2; it must be at or below",
        ),
        ("{name: X, metric: tocsin_load1, op: '<', threshold: 1, clear: 0.5}", "at or above"),
        ("{name: X, metric: tocsin_load1, threshold: 1, severity: page}", "'severity' is 'page'"),
        ("{name: X, metric: tocsin_load1, threshold: 1, labels: {severity: x}}", "sets 'severity'"),
        (
            "{name: X, metric: tocsin_load1, threshold: 1, match: {device: sda}}",
            "'match' has 'device'",
        ),
        (
            "{name: X, metric: tocsin_load1, threshold: 1, treshold: 2}",
            "'treshold' is not a rule key",
        ),
        (
            "{name: X, metric: tocsin_load1, threshold: 1, annotations: {s: '{{ $x }}'}}",
            "unknown operand",
        ),
        (
            "{name: X, metric: tocsin_load1, threshold: 1, annotations: {s: '{{ $value | up }}'}}",
            "unknown function",
        ),
        ("{name: 'bad name', metric: tocsin_load1, threshold: 1}", "rule #1: 'name' is 'bad name'"),
        ("just-a-string", "rule #1 is 'just-a-string'"),
    ],
)
def test_bad_rule_is_refused_naming_file_line_rule_and_key(body: str, expected: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules_document(one_rule(body), "rules.yml")
    assert str(caught.value).startswith("rules.yml")
    assert expected in str(caught.value)
    assert caught.value.exit_code == 78


def test_error_points_at_the_line_of_the_bad_key() -> None:
    text = "rules:\n  - name: X\n    metric: tocsin_load1\n    threshold: 1\n    for: soon\n"
    with pytest.raises(RuleError, match=r"^rules.yml:5: rule 'X': 'for'"):
        parse_rules_document(text, "rules.yml")


def test_duplicate_rule_is_refused() -> None:
    rule = "{name: X, metric: tocsin_load1, threshold: 1}"
    with pytest.raises(RuleError, match="same name, severity, match and labels"):
        parse_rules_document(f"rules:\n  - {rule}\n  - {rule}\n", "rules.yml")


def test_a_file_without_a_rules_list_is_refused() -> None:
    with pytest.raises(RuleError, match="expected a mapping with a 'rules' list"):
        parse_rules_document("- name: X\n", "rules.yml")


def test_every_gauge_a_rule_reads_has_known_labels() -> None:
    assert GAUGES["tocsin_filesystem_used_ratio"] == ("mountpoint", "fstype", "device")


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("{{ $value }}", 0.5, "0.5"),
        ("{{ $value }}", 3.0, "3"),
        ("{{ $value | humanizePercentage }}", 0.9534, "95.34%"),
        ("{{ $value | humanize }}", 1234567.0, "1.235M"),
        ("{{ $value | humanize }}", 0.00123, "1.23m"),
        ("{{ $value | humanize1024 }}", 1048576.0, "1Mi"),
        ('{{ printf "%.2f" $value }}', 1.23456, "1.23"),
        ('{{ $value | printf "%.1f" }}', 2.25, "2.2"),
        ("disk {{ $labels.device }} at {{ $value }}", 1.0, "disk sda at 1"),
        ("{{ $labels.missing }}", 1.0, ""),
        ("no actions", 1.0, "no actions"),
        ("{{ $labels.device | humanize }}", 1.0, "%!humanize(sda)"),
    ],
)
def test_templates_render_value_and_labels(text: str, value: float, expected: str) -> None:
    assert Template.parse(text).render(value, {"device": "sda"}) == expected


def test_unclosed_template_is_refused() -> None:
    with pytest.raises(ValueError, match="no closing"):
        Template.parse("{{ $value")
