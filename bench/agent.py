"""The agent beside node_exporter: memory, cost of a sample cycle, cost of a scrape.

Both exporters run on this machine in the same run. node_exporter is restricted to the
collectors that match the agent's (cpu, meminfo, diskstats, filesystem, loadavg, netdev, stat,
timex, vmstat, pressure, conntrack). node_exporter samples when scraped, so its "cycle" is a scrape; the agent samples on its
own clock (here: 10,000 cycles back to back) and a scrape only copies the bytes rendered by the
last cycle. CPU time comes from /proc/PID/stat; RSS from /proc/PID/status.
"""

from __future__ import annotations

import compileall
import contextlib
import gzip
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
NODE_COLLECTORS = [
    "cpu",
    "meminfo",
    "diskstats",
    "filesystem",
    "loadavg",
    "netdev",
    "stat",
    "timex",
    "vmstat",
    "pressure",
    "conntrack",
]
CYCLES = 10_000
SCRAPES = 2_000
# Whole run well under three minutes even on a slow, busy machine: phases stop at these limits.
PHASE_SECONDS = 45.0
START_SECONDS = 20.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    """What one exporter measured."""

    rss_start_mib: float = 0.0
    rss_cycles_mib: float = 0.0
    rss_end_mib: float = 0.0
    cycles: int = 0
    cycle_median_ms: float = 0.0
    cycle_p99_ms: float = 0.0
    cycle_cpu_ms: float = 0.0
    sample_median_ms: float | None = None
    sample_p99_ms: float | None = None
    scrapes: int = 0
    scrape_median_ms: float = 0.0
    scrape_p99_ms: float = 0.0
    scrape_cpu_ms: float = 0.0
    scrape_bytes: int = 0
    notes: list[str] = field(default_factory=list)


def rss_mib(pid: int) -> float:
    """Return the resident set size of a process in MiB, the unit ps and top call MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of a process, all threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    """Return a port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def quantiles_ms(values: list[float]) -> tuple[float, float]:
    """Return the median and 99th percentile, in milliseconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return ordered[len(ordered) // 2] * 1000, p99 * 1000


class Scraper:
    """A Prometheus-like client: one kept-alive connection, asking for gzip."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def scrape(self) -> bytes:
        self.connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/metrics answered {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return body

    def measure(self, pid: int, count: int) -> tuple[list[float], float, int]:
        """Scrape up to `count` times; return latencies, CPU seconds of `pid`, and body size."""
        latencies: list[float] = []
        deadline = time.monotonic() + PHASE_SECONDS
        cpu_before = cpu_seconds(pid)
        body = b""
        while len(latencies) < count and time.monotonic() < deadline:
            started = time.perf_counter()
            body = self.scrape()
            latencies.append(time.perf_counter() - started)
        return latencies, cpu_seconds(pid) - cpu_before, len(body)

    def close(self) -> None:
        self.connection.close()


def wait_until_serving(port: int, process: subprocess.Popen[bytes]) -> None:
    """Poll /metrics until it answers; fail if the process dies or takes too long."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exporter exited with {process.returncode}")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {START_SECONDS}s")


def scrape_phase(figures: Figures, pid: int, port: int) -> None:
    scraper = Scraper(port)
    try:
        scraper.scrape()
        latencies, cpu, size = scraper.measure(pid, SCRAPES)
    finally:
        scraper.close()
    figures.scrapes = len(latencies)
    figures.scrape_median_ms, figures.scrape_p99_ms = quantiles_ms(latencies)
    figures.scrape_cpu_ms = cpu / len(latencies) * 1000
    figures.scrape_bytes = size


@contextlib.contextmanager
def running(command: list[str], **options: object) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process and make sure it is gone afterwards, whatever happens."""
    process = subprocess.Popen(command, **options)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def bench_agent(workdir: Path) -> Figures:
    """Start the real agent, run 10,000 cycles, then scrape it while it idles."""
    # An installed agent has byte-compiled modules (pip compiles them); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile in memory and carry the compiler's garbage.
    for package in (ROOT / "tocsin" / "agent", ROOT / "bench"):
        compileall.compile_dir(package, quiet=1)
    port = free_port()
    config = workdir / "agent.yml"
    config.write_text(f"listen: 127.0.0.1:{port}\nstate_dir: {workdir / 'state'}\n")
    figures = Figures()
    timings = workdir / "timings.bin"
    command = [sys.executable, "-m", "bench.agent_exporter", str(config), str(timings)]
    with running(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT) as process:
        assert process.stdin is not None and process.stdout is not None
        ready = process.stdout.readline().decode().split()
        if ready[:1] != ["ready"]:
            raise RuntimeError(f"agent did not start: {ready}")
        pid = process.pid
        time.sleep(0.5)
        figures.rss_start_mib = rss_mib(pid)
        cpu_before = cpu_seconds(pid)
        process.stdin.write(f"cycles {CYCLES}\n".encode())
        process.stdin.flush()
        if process.stdout.readline().strip() != b"done":
            raise RuntimeError("agent stopped during the cycles")
        figures.cycle_cpu_ms = (cpu_seconds(pid) - cpu_before) / CYCLES * 1000
        figures.rss_cycles_mib = rss_mib(pid)
        durations = array("d")
        with timings.open("rb") as source:
            durations.fromfile(source, 2 * CYCLES)
        figures.cycles = CYCLES
        figures.cycle_median_ms, figures.cycle_p99_ms = quantiles_ms(list(durations[:CYCLES]))
        figures.sample_median_ms, figures.sample_p99_ms = quantiles_ms(list(durations[CYCLES:]))
        scrape_phase(figures, pid, port)
        figures.rss_end_mib = rss_mib(pid)
        process.stdin.write(b"quit\n")
        process.stdin.flush()
        process.wait(timeout=20)
    return figures


def bench_node_exporter() -> Figures:
    """Start node_exporter on the same collectors; its cycle is a scrape, so scrape 10,000 times."""
    port = free_port()
    command = [
        NODE_EXPORTER,
        f"--web.listen-address=127.0.0.1:{port}",
        "--collector.disable-defaults",
        *(f"--collector.{name}" for name in NODE_COLLECTORS),
    ]
    figures = Figures()
    with running(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        wait_until_serving(port, process)
        time.sleep(0.5)
        figures.rss_start_mib = rss_mib(process.pid)
        scraper = Scraper(port)
        try:
            latencies, cpu, _ = scraper.measure(process.pid, CYCLES)
        finally:
            scraper.close()
        figures.cycles = len(latencies)
        if figures.cycles < CYCLES:
            figures.notes.append(
                f"node_exporter: stopped after {figures.cycles} cycles (time limit)"
            )
        figures.cycle_median_ms, figures.cycle_p99_ms = quantiles_ms(latencies)
        figures.cycle_cpu_ms = cpu / figures.cycles * 1000
        figures.rss_cycles_mib = rss_mib(process.pid)
        scrape_phase(figures, process.pid, port)
        figures.rss_end_mib = rss_mib(process.pid)
    return figures


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def report(agent: Figures, node: Figures) -> list[str]:
    """Format the side-by-side table, then the targets with PASS or MISS."""
    rows = [
        ("RSS after start (MiB)", agent.rss_start_mib, node.rss_start_mib),
        (f"RSS after {agent.cycles:,} cycles (MiB)", agent.rss_cycles_mib, node.rss_cycles_mib),
        (f"RSS after {agent.scrapes:,} more scrapes (MiB)", agent.rss_end_mib, node.rss_end_mib),
        ("sample cycle median (ms)", agent.cycle_median_ms, node.cycle_median_ms),
        ("sample cycle p99 (ms)", agent.cycle_p99_ms, node.cycle_p99_ms),
        ("CPU per sample cycle (ms)", agent.cycle_cpu_ms, node.cycle_cpu_ms),
        ("/metrics scrape median (ms)", agent.scrape_median_ms, node.scrape_median_ms),
        ("/metrics scrape p99 (ms)", agent.scrape_p99_ms, node.scrape_p99_ms),
        ("CPU per scrape (ms)", agent.scrape_cpu_ms, node.scrape_cpu_ms),
        ("/metrics body (bytes, unzipped)", agent.scrape_bytes, node.scrape_bytes),
    ]
    lines = [f"{'':40} {'tocsin-agent':>13} {'node_exporter':>14} {'ratio':>7}"]
    for name, ours, theirs in rows:
        lines.append(f"{name:40} {ours:13.3f} {theirs:14.3f} {ratio(ours, theirs):>7}")
    lines.append(
        f"agent sampler pass alone: median {agent.sample_median_ms:.3f} ms, "
        f"p99 {agent.sample_p99_ms:.3f} ms (the cycle adds rule evaluation and rendering)"
    )
    lines.append("node_exporter samples on each scrape: its cycle is a scrape.")
    growth = agent.rss_cycles_mib - agent.rss_start_mib
    targets = [
        ("agent RSS <= 35 MiB", max(agent.rss_cycles_mib, agent.rss_end_mib) <= 35),
        (f"agent RSS flat (grew {growth:+.2f} MiB over the cycles, <= 1 MiB)", growth <= 1.0),
        ("sample cycle median <= 1 ms", agent.cycle_median_ms <= 1.0),
        (
            "scrape median <= half node_exporter's",
            agent.scrape_median_ms * 2 <= node.scrape_median_ms,
        ),
        ("CPU per scrape <= half node_exporter's", agent.scrape_cpu_ms * 2 <= node.scrape_cpu_ms),
    ]
    lines += [f"  {'PASS' if passed else 'MISS'}  {name}" for name, passed in targets]
    return lines + agent.notes + node.notes


def main() -> int:
    """Run both exporters one after the other and print the comparison."""
    if not os.access(NODE_EXPORTER, os.X_OK):
        print(f"{NODE_EXPORTER} missing: install Debian's prometheus-node-exporter (`make peers`)")
        return 1
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as workdir:
        agent = bench_agent(Path(workdir))
    node = bench_node_exporter()
    print(
        f"{CYCLES:,} cycles, {SCRAPES:,} scrapes each, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print("\n".join(report(agent, node)))
    print(
        f"(benchmark took {time.monotonic() - started:.0f} s; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after: other work on the "
        "machine slows both exporters)"
    )
    return 0
