"""The Grafana dashboards are well formed, their queries are valid PromQL, and they name only
metrics the daemons export (the documented contract and the agent's real /metrics output)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.peers import require_binary

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "grafana"
DASHBOARDS = ["tocsin-fleet.json", "tocsin-bridge.json"]

# The agent's metric families as DESIGN.md and the agent's self-metrics define them.
AGENT_FAMILIES = {
    "tocsin_cpu_seconds_total": "counter",
    "tocsin_disk_read_bytes_total": "counter",
    "tocsin_disk_written_bytes_total": "counter",
    "tocsin_disk_reads_completed_total": "counter",
    "tocsin_disk_writes_completed_total": "counter",
    "tocsin_disk_io_time_seconds_total": "counter",
    "tocsin_network_receive_bytes_total": "counter",
    "tocsin_network_transmit_bytes_total": "counter",
    "tocsin_cpu_usage_ratio": "gauge",
    "tocsin_cpu_iowait_ratio": "gauge",
    "tocsin_memory_used_ratio": "gauge",
    "tocsin_swap_used_ratio": "gauge",
    "tocsin_disk_busy_ratio": "gauge",
    "tocsin_filesystem_used_ratio": "gauge",
    "tocsin_filesystem_stuck": "gauge",
    "tocsin_load1": "gauge",
    "tocsin_load5": "gauge",
    "tocsin_load15": "gauge",
    "tocsin_load_per_cpu": "gauge",
    "tocsin_agent_sample_duration_seconds": "gauge",
    "tocsin_agent_spool_entries": "gauge",
    "tocsin_agent_spool_bytes": "gauge",
    "tocsin_agent_spool_dropped_total": "counter",
    "tocsin_agent_push_failures_total": "counter",
    "tocsin_agent_push_batches_total": "counter",
    "tocsin_alert_firing": "gauge",
    "tocsin_agent_spool_oldest_age_seconds": "gauge",
    "tocsin_agent_spool_alerts": "gauge",
    "tocsin_agent_spool_memory_entries": "gauge",
    "tocsin_agent_spool_quarantined_entries": "gauge",
    "tocsin_agent_dead_letters": "gauge",
    "tocsin_agent_receiver_auth_failed": "gauge",
    "tocsin_agent_alerts_sent_total": "counter",
    "tocsin_agent_alerts_dead_lettered_total": "counter",
    "tocsin_agent_alerts_dropped_total": "counter",
    "tocsin_agent_alerts_collapsed_total": "counter",
    "tocsin_agent_alerts_withheld_total": "counter",
    "tocsin_agent_dead_letters_evicted_total": "counter",
    "tocsin_filesystem_device_error": "gauge",
    "tocsin_timex_offset_seconds": "gauge",
    "tocsin_timex_sync_status": "gauge",
    "tocsin_timex_maxerror_seconds": "gauge",
    "tocsin_timex_estimated_error_seconds": "gauge",
    "tocsin_agent_collector_success": "gauge",
    "tocsin_agent_collector_errors_total": "counter",
    "tocsin_agent_storage_failing": "gauge",
    "tocsin_agent_watchdog": "gauge",
    "tocsin_agent_storage_failures_total": "counter",
    "tocsin_agent_held_alerts": "gauge",
    "tocsin_agent_held_dropped_total": "counter",
    "tocsin_agent_last_successful_cycle_timestamp_seconds": "gauge",
    "tocsin_agent_receiver_clock_offset_seconds": "gauge",
}
# node_exporter's host coverage (README: "What the agent measures"); rules read them, the fleet
# dashboard need not show each.
AGENT_HOST_FAMILIES = {
    "tocsin_filesystem_size_bytes": "gauge",
    "tocsin_filesystem_free_bytes": "gauge",
    "tocsin_filesystem_avail_bytes": "gauge",
    "tocsin_filesystem_files": "gauge",
    "tocsin_filesystem_files_free": "gauge",
    "tocsin_filesystem_files_used_ratio": "gauge",
    "tocsin_filesystem_readonly": "gauge",
    "tocsin_memory_total_bytes": "gauge",
    "tocsin_memory_available_bytes": "gauge",
    "tocsin_network_receive_errs_total": "counter",
    "tocsin_network_transmit_errs_total": "counter",
    "tocsin_network_receive_drop_total": "counter",
    "tocsin_network_transmit_drop_total": "counter",
    "tocsin_cpu_core_seconds_total": "counter",
    "tocsin_boot_time_seconds": "gauge",
    "tocsin_uptime_seconds": "gauge",
    "tocsin_context_switches_total": "counter",
    "tocsin_forks_total": "counter",
    "tocsin_vmstat_oom_kill": "gauge",
    "tocsin_nf_conntrack_used_ratio": "gauge",
    "tocsin_filefd_used_ratio": "gauge",
    "tocsin_md_disks": "gauge",
    "tocsin_md_disks_missing": "gauge",
    "tocsin_systemd_units_failed": "gauge",
    # Service checks: present for the checks a config names.
    "tocsin_check_up": "gauge",
    "tocsin_check_duration_seconds": "gauge",
    "tocsin_check_certificate_expiry_seconds": "gauge",
}
# Absent on a host without swap, or from an agent that pushes nowhere, so a real scrape here
# may lack them.
AGENT_HOST_DEPENDENT = {"tocsin_swap_used_ratio", "tocsin_agent_receiver_clock_offset_seconds"}

# The bridge's metric families as /work/notes/bridge.md fixes them.
BRIDGE_FAMILIES = {
    "tocsin_bridge_incidents_open": "gauge",
    "tocsin_bridge_alerts_received_total": "counter",
    "tocsin_bridge_ingest_duration_seconds": "histogram",
    "tocsin_bridge_requests_rejected_total": "counter",
    "tocsin_bridge_timer_lag_seconds": "histogram",
    "tocsin_bridge_timers_pending": "gauge",
    "tocsin_bridge_sla_clocks_total": "counter",
    "tocsin_bridge_escalations_total": "counter",
    "tocsin_bridge_outbox_pending": "gauge",
    "tocsin_bridge_outbox_dead": "gauge",
    "tocsin_bridge_notifications_total": "counter",
    "tocsin_bridge_heartbeat_hosts": "gauge",
    "tocsin_bridge_alerts_total": "counter",
    "tocsin_bridge_sender_clock_skew_seconds": "gauge",
    "tocsin_bridge_mail_total": "counter",
    "tocsin_bridge_mail_polls_total": "counter",
}
# Series Prometheus itself makes for every target.
PROMETHEUS_SERIES = {"up"}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
KEYWORDS |= {"and", "or", "unless", "inf", "nan"}
VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "30s"}


def series_names(families: dict[str, str]) -> set[str]:
    """Expand metric families to the sample names a query may use."""
    names = set()
    for family, kind in families.items():
        if kind == "histogram":
            names |= {f"{family}_bucket", f"{family}_sum", f"{family}_count"}
        else:
            names.add(family)
    return names


def load(name: str) -> dict[str, Any]:
    """Parse one dashboard."""
    data: dict[str, Any] = json.loads((GRAFANA / name).read_text())
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every panel, including those nested in collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Return every PromQL expression: panel targets and template variable queries."""
    found = [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["query"]["query"])
            assert match, variable["query"]
            found.append(match.group(1))
    return found


def concrete(expr: str) -> str:
    """Replace Grafana's variables so the expression is plain PromQL."""
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return re.sub(r"\$\w+", ".*", expr)


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', concrete(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"(?<![\w:])\d[\d.]*(?:e[+-]?\d+)?(?:ms|[smhdwy])*", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end() :].lstrip()
        word = match.group(0)
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def exported_families(exposition: str) -> dict[str, str]:
    """Read `# TYPE name kind` lines of a text exposition."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, flags=re.MULTILINE))


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_is_well_formed(name: str) -> None:
    dashboard = load(name)
    ids = [p["id"] for p in panels(dashboard)]
    assert dashboard["uid"] == name.removesuffix(".json")
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_uses_the_datasource_variable(name: str) -> None:
    dashboard = load(name)
    for panel in panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_query_is_valid_promql(name: str, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    exprs = queries(load(name))
    rules = [{"record": f"dashboard:query{i}", "expr": concrete(e)} for i, e in enumerate(exprs)]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('rate(a_total{job=~"$job"}[$__rate_interval])', {"a_total"}),
        ("sum by (le) (rate(h_bucket[5m])) / on (x) group_left (y) b", {"h_bucket", "b"}),
        ('x{l="sum(y)"} > 0.5 or vector(0)', {"x"}),
        ("histogram_quantile(0.9, c) and ignoring(instance) d offset 5m", {"c", "d"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize(
    ("name", "families"),
    [("tocsin-fleet.json", AGENT_FAMILIES), ("tocsin-bridge.json", BRIDGE_FAMILIES)],
)
def test_queries_name_only_documented_metrics(name: str, families: dict[str, str]) -> None:
    used = set().union(*map(metric_names, queries(load(name))))
    assert used - series_names(families) - PROMETHEUS_SERIES == set()


@pytest.mark.parametrize(
    ("name", "families"),
    [("tocsin-fleet.json", AGENT_FAMILIES), ("tocsin-bridge.json", BRIDGE_FAMILIES)],
)
def test_every_documented_metric_has_a_panel(name: str, families: dict[str, str]) -> None:
    used = set().union(*map(metric_names, queries(load(name))))
    unused = {f for f in families if not series_names({f: families[f]}) & used}
    assert unused <= {"tocsin_agent_spool_bytes", "tocsin_agent_push_batches_total"}


def free_port() -> int:
    """Return a port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scrape_until(url: str, ready: Any, seconds: float) -> str:
    """GET `url` until `ready(text)` holds, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        try:
            text = requests.get(url, timeout=2).text
        except requests.RequestException:
            text = ""
        if ready(text):
            return text
        time.sleep(0.2)
    return text


@pytest.mark.slow
def test_fleet_dashboard_names_only_metrics_a_running_agent_exports(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "agent.yml"
    # Pushing (to a closed port) so the delivery metrics are exported too.
    config.write_text(
        f"interval: 1s\nlisten: 127.0.0.1:{port}\nstate_dir: {tmp_path / 'state'}\n"
        f"push: {{url: 'http://127.0.0.1:{free_port()}'}}\n"
    )
    program = Path(sys.executable).parent / "tocsin-agent"
    if not program.exists():
        pytest.skip("tocsin-agent is not installed in this environment (make venv)")
    agent = subprocess.Popen(
        [str(program), "run", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Ratios appear from the second sampling pass on: wait for one of them.
        text = scrape_until(
            f"http://127.0.0.1:{port}/metrics",
            lambda t: "\ntocsin_cpu_usage_ratio " in t,
            seconds=15,
        )
    finally:
        agent.terminate()
        _, stderr = agent.communicate(timeout=15)
    exported = series_names(exported_families(text))
    assert "tocsin_cpu_usage_ratio" in exported, stderr.decode()
    used = set().union(*map(metric_names, queries(load("tocsin-fleet.json"))))
    assert used - exported - AGENT_HOST_DEPENDENT - PROMETHEUS_SERIES == set()


@pytest.mark.slow
def test_bridge_dashboard_names_only_metrics_a_running_bridge_exports(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "bridge.yml"
    config.write_text(
        f"listen: 127.0.0.1:{port}\ndatabase_url: sqlite:///{tmp_path / 'bridge.db'}\n"
        "secret_key: grafana-test-secret-key-grafana-test\n"
    )
    bridge = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tocsin.bridge.cli import main; main()",
            "serve",
            "--config",
            str(config),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        text = scrape_until(
            f"http://127.0.0.1:{port}/metrics", lambda t: "# TYPE tocsin_bridge" in t, seconds=30
        )
    finally:
        bridge.terminate()
        _, stderr = bridge.communicate(timeout=15)
    exported = series_names(exported_families(text))
    assert exported, stderr.decode()[-2000:]
    used = set().union(*map(metric_names, queries(load("tocsin-bridge.json"))))
    assert used - exported - PROMETHEUS_SERIES == set()
