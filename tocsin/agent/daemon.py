"""The run loop: sample every interval, evaluate rules, hand alerts to the pusher, serve /metrics.

The loop never touches the network: transitions are spooled to disk and a separate thread
delivers them. SIGTERM stops cleanly (state saved, undelivered alerts kept in the spool),
SIGHUP reloads the config all or nothing: the running one stays if the new one is invalid
or its /metrics address cannot be opened.
"""

from __future__ import annotations

import errno
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry

from tocsin.agent.clockcheck import ReceiverClock
from tocsin.agent.config import AgentConfig, SamplerConfig
from tocsin.agent.cycle import CycleClock, HeldAlerts, StorageFaults
from tocsin.agent.deadletters import DeadLetters, file_name
from tocsin.agent.deliverymetrics import DeliveryCollector, with_delivery_gauges
from tocsin.agent.errors import AddressInUse, ConfigError, StorageError
from tocsin.agent.evaluator import AlertState, Evaluator, LabelSet, Transition, rule_key
from tocsin.agent.exposition import Exposition, ServerHandle
from tocsin.agent.fsutil import ensure_writable_directory
from tocsin.agent.history import History
from tocsin.agent.push import Receiver, WireAlert
from tocsin.agent.pusher import Backoff, Heartbeat, Pace, Pusher
from tocsin.agent.sample import Sample
from tocsin.agent.selfmetrics import AgentCollector, AgentSnapshot
from tocsin.agent.spool import Spool
from tocsin.agent.state import StateStore
from tocsin.agent.textformat import SampleCollector
from tocsin.agent.urls import generator_url
from tocsin.common.sdnotify import Notifier

if TYPE_CHECKING:
    from tocsin.agent.checks.runner import Checks
    from tocsin.agent.fanout import Fanout

log = logging.getLogger(__name__)
STATE_FILE = "alerts.json"
# A firing alert's endsAt lies this many re-send periods ahead, as Prometheus does (4x).
TTL_RESENDS = 4
# What a refused reload or /metrics address raises: the running config stays.
LISTEN_FAULTS = (ConfigError, AddressInUse)
# /healthz fails, and the watchdog stops being pinged, after this many intervals without a cycle.
STALE_CYCLES = 3
FULL = (errno.ENOSPC, errno.EDQUOT)
# The always-firing rule a dead-man service watches (rules/agent.yml).
WATCHDOG_ALERT = "TocsinAgentWatchdog"


class SamplerLike(Protocol):
    """What the loop needs of a sampler."""

    def sample(self) -> Sample: ...

    def close(self) -> None: ...


def production_sampler(config: SamplerConfig) -> SamplerLike:
    """Build the psutil sampler the config describes."""
    from tocsin.agent.sampler import Sampler

    return Sampler(**config.options())


def production_pusher(config: AgentConfig, spool: Spool) -> Pusher | None:
    """Build the pusher for the config's receiver (`push`), or None when nothing is pushed."""
    push = config.push
    if push is None:
        return None
    receiver = Receiver.for_config(push)
    beat = None
    if config.heartbeat is not None:
        beat = Heartbeat(config.instance, config.heartbeat, dict(config.labels))
    dead_letters = DeadLetters(config.state_dir / file_name(push.subdir), config.spool.dead_letters)
    pace = Pace(push.max_batch, push.max_rate)
    return Pusher(
        receiver, spool, push_ttl(config), beat, Backoff(), dead_letters=dead_letters, pace=pace
    )


def push_ttl(config: AgentConfig) -> float:
    """Return how far ahead a firing alert's endsAt lies, so a clock that far behind loses none."""
    # Four re-sends, as Prometheus does, plus push.clock_skew for a host clock behind the receiver.
    assert config.push is not None
    return TTL_RESENDS * max(config.push.resend, config.interval) + config.push.clock_skew


def check_directories(config: AgentConfig) -> dict[str, StorageError]:
    """Create the state (and, when pushing, spool) directory and prove each writable, or refuse.

    Found now rather than at the first alert or at SIGTERM, when state would be lost. A config
    fault (exit 78): restarting cannot make the path writable, so systemd must not retry. A full
    directory is no config fault: it is returned ("state" or "spool") and the agent runs degraded.
    """
    directories = [("state", "state_dir", config.state_dir)]
    for push in config.receivers:
        directories.append(("spool", "spool.dir", config.spool_dir(push)))
    full: dict[str, StorageError] = {}
    for what, key, directory in directories:
        try:
            ensure_writable_directory(directory)
        except OSError as exc:
            if exc.errno in FULL:
                full[what] = StorageError(f"'{key}' {directory} is full: {exc.strerror}")
                continue
            raise ConfigError(
                f"{config.source}: '{key}' {directory} cannot be created or written "
                f"({exc.strerror or exc}); point it at a writable directory"
            ) from exc
    return full


def _service_checks(config: AgentConfig, clock: Callable[[], float]) -> Checks | None:
    """Build the runner of the config's service checks, None (nothing loaded) without any."""
    if not config.checks:
        return None
    from tocsin.agent.checks.runner import Checks

    return Checks(config.checks, clock)


def _rule_metrics(config: AgentConfig) -> dict[str, str]:
    """Map each rule's identity (an alert's `rule`) to the metric it reads."""
    return {rule_key(rule): rule.metric for rule in config.rules}


# Matches no state: the state file is written at the next cycle.
_UNSAVED: frozenset[tuple[object, ...]] = frozenset({("unsaved",)})


def _signature(states: dict[LabelSet, AlertState]) -> frozenset[tuple[object, ...]]:
    """Return what the state file must remember; values alone changing need no write."""
    return frozenset(
        (labels, state.status, state.active_since, state.fired_at)
        for labels, state in states.items()
    )


@dataclass
class Agent:
    """One running agent; every I/O seam (sampler, pusher, clocks, systemd) is injectable."""

    config: AgentConfig
    sampler_factory: Callable[[SamplerConfig], SamplerLike] = production_sampler
    pusher_factory: Callable[[AgentConfig, Spool], Pusher | None] = production_pusher
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    notifier: Notifier = field(default_factory=lambda: Notifier({}))
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    states: dict[LabelSet, AlertState] = field(default_factory=dict)
    # `tocsin-agent run` sets it: after the first cycle the process's garbage collector is fitted
    # to the cycle's size (gctune); an agent built inside another program leaves it alone.
    settle_collector: bool = False

    def __post_init__(self) -> None:
        self.series_count = 0
        self._evaluator = Evaluator(self.config.rules, self.config.base_labels)
        self._metrics = _rule_metrics(self.config)
        self._history = History(self.config.rules)
        self._sample_collector = SampleCollector()
        self.registry.register(self._sample_collector)
        self.server: ServerHandle | None = None
        self.delivery: Fanout | None = None
        self.storage = StorageFaults()
        self.held = HeldAlerts()
        self.cycles = CycleClock()
        self.receiver_clock = ReceiverClock(self.clock)
        self.registry.register(AgentCollector(self.snapshot))
        self.registry.register(DeliveryCollector(self._pushers, self.clock))
        self.exposition = Exposition(self.registry, self.health)
        self._store = StateStore(self.config.state_dir / STATE_FILE)
        self._saved: frozenset[tuple[object, ...]] = frozenset()
        self._sampler: SamplerLike | None = None
        self._checks = _service_checks(self.config, self.monotonic)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._reload_requested = threading.Event()

    @property
    def pusher(self) -> Pusher | None:
        """Return the first receiver's pusher, None when not pushing."""
        return self.delivery.pushers[0] if self.delivery and self.delivery.pushers else None

    @property
    def spool(self) -> Spool | None:
        """Return the first receiver's spool, None when not pushing."""
        pusher = self.pusher
        return pusher.spool if pusher is not None else None

    def _pushers(self) -> list[Pusher]:
        return self.delivery.pushers if self.delivery is not None else []

    def snapshot(self) -> AgentSnapshot:
        """Return the self-metrics' view of the agent, every receiver's spool and pushes summed."""
        pushers = self._pushers()
        spools = [pusher.spool for pusher in pushers]
        return AgentSnapshot(
            alerts=dict(self.states),
            spool_entries=sum(spool.depth for spool in spools),
            spool_bytes=sum(spool.size_bytes for spool in spools),
            spool_dropped_total=sum(spool.dropped_total for spool in spools),
            push_failures=dict(self.delivery.failures()) if self.delivery else {},
            push_batches_total=sum(pusher.sent_total for pusher in pushers),
            last_cycle_at=self.cycles.last_wall,
            storage_failures=dict(self.storage.failures),
            held_alerts=len(self.held),
            held_dropped_total=self.held.dropped_total,
            receiver_clock_offset=self.receiver_clock.offset if pushers else None,
        )

    def start(self) -> None:
        """Check the directories, restore alert state, start the sender and /metrics server."""
        full = check_directories(self.config)
        self.states = self._store.load()
        self._saved = _signature(self.states)
        self._degraded(full)
        self._sampler = self.sampler_factory(self.config.sampler)
        try:
            self._start_server()
        except LISTEN_FAULTS:
            self._sampler.close()
            raise
        self._start_pusher()
        if self.states:
            log.info("restored %d active alerts from %s", len(self.states), self._store.path)

    def _start_pusher(self) -> None:
        """Build a spool and a pusher for each receiver and start them."""
        self.delivery = None
        pushers = []
        for push in self.config.receivers:
            spool = Spool(
                self.config.spool_dir(push), self.config.spool.max_bytes, clock=self.clock
            )
            # The factory sees a config whose `push` is this one receiver.
            pusher = self.pusher_factory(replace(self.config, push=push, more_push=()), spool)
            if pusher is not None:
                pushers.append((push.resend, pusher))
        if not pushers:
            return
        # Loaded only by an agent that pushes: the agent's memory budget is tight.
        from tocsin.agent.fanout import Fanout

        self.delivery = Fanout(pushers)
        assert self.config.push is not None
        self.receiver_clock.allowance = self.config.push.clock_skew
        self.delivery.observe(self.receiver_clock.on_response)
        self.delivery.start()

    def _start_server(self) -> None:
        if self.config.listen is not None:
            self.server = self._open_server(self.config, *self.config.listen)

    def _open_server(self, config: AgentConfig, host: str, port: int) -> ServerHandle:
        source = config.source
        try:
            server = self.exposition.serve(host, port, web=config.web)
        except OSError as exc:
            message = f"{source}: 'listen' {host}:{port} cannot be opened: {exc.strerror}"
            # A port still held (the old agent stopping) often frees itself: exit 75, retried.
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(f"{message}; stop what holds the port") from exc
            raise ConfigError(message) from exc
        scheme = "https" if config.web is not None and config.web.tls is not None else "http"
        log.info("serving /metrics on %s://%s:%d/metrics", scheme, host, server.port)
        return server

    def _rebind(self, new: AgentConfig) -> None:
        """Move /metrics to the new address, or raise ConfigError with the old one still served."""
        if (new.listen, new.web) == (self.config.listen, self.config.web):
            return
        if new.listen is None:
            if self.server is not None:
                self.server.close()
            self.server = None
            return
        old = self.server
        try:
            server = self._open_server(new, *new.listen)
        except LISTEN_FAULTS as refused:
            if old is None or new.listen[1] != old.port:
                raise
            # The old listener may hold the very port (127.0.0.1:10042 -> 0.0.0.0:10042): retry
            # without it, and put it back on its own port if the new address still fails.
            old.close()
            self.server = None
            try:
                server = self._open_server(new, *new.listen)
            except LISTEN_FAULTS:
                try:
                    self.server = self._open_server(self.config, old.host, old.port)
                except LISTEN_FAULTS as lost:
                    raise ConfigError(f"{refused}; and the old listener is gone: {lost}") from lost
                raise refused from refused.__cause__
        if self.server is not None:
            self.server.close()
        self.server = server

    def tick(self) -> list[Transition]:
        """Run one cycle: sample, evaluate, spool transitions, save state, re-send, render.

        A storage fault costs persistence only: it is counted, the alerts wait in memory and
        go out through the re-send path, and the cycle still refreshes /metrics.
        """
        assert self._sampler is not None, "start() first"
        sample = self._sample()
        now = self.clock()
        self.series_count = len(sample.gauges) + len(sample.counters)
        self._sample_collector.update(sample)
        states, transitions = self._evaluator.evaluate(
            self.states,
            self._history.derive(with_delivery_gauges(sample, self._pushers(), now), now),
            now,
        )
        for transition in transitions:
            alert = transition.alert
            labels = dict(alert.labels)
            fields = {"alert": transition.change, "value": alert.value, "labels": labels}
            log.info(
                "alert %s %s (value %g)",
                transition.change,
                labels,
                alert.value,
                extra={"fields": fields},
            )
        spooled, held_more = self._spool(
            [
                WireAlert.firing(t.alert, self._source(t.alert))
                if t.change == "firing"
                else WireAlert.resolved(t.alert, t.at, self._source(t.alert))
                for t in transitions
                if t.change in ("firing", "resolved") and self._pushes(t.alert)
            ]
        )
        self.states = states
        self._save(states, now)
        self._resend(spooled, held_more)
        self.exposition.refresh()
        self.cycles.completed(now, self.monotonic())
        return transitions

    def _sample(self) -> Sample:
        """Take a sample with the agent's own gauges; a sampler fault leaves those alone."""
        assert self._sampler is not None
        try:
            sample = self._sampler.sample()
        except Exception as exc:  # the collectors guard themselves; this is the last line
            log.exception("sampling failed: %s", exc)
            sample = Sample(taken_at=self.clock())
        checks = self._checks.series() if self._checks is not None else ()
        return replace(sample, gauges=sample.gauges + self.storage.series() + checks)

    def _spool(self, alerts: list[WireAlert]) -> tuple[set[LabelSet], bool]:
        """Spool transitions after held ones; return the firing ones spooled, and if more are held."""
        delivery = self.delivery
        if delivery is None or not (alerts or self.held or delivery.refused):
            return set(), False
        try:
            delivery.enqueue([*self.held.alerts(), *alerts])
        except StorageError as exc:
            self.storage.failed("spool", exc)
            self.held.hold(alerts)
            return set(), bool(alerts)
        self.held.clear()
        refused = delivery.refused
        if refused is not None:
            # Spooled all the same: held in the spool's own bounded memory until the disk has room.
            self.storage.failed("spool", refused)
        else:
            self.storage.succeeded("spool")
        return {alert.labels for alert in alerts if alert.ends_at is None}, False

    def _save(self, states: dict[LabelSet, AlertState], now: float) -> None:
        signature = _signature(states)
        if signature == self._saved:
            return
        try:
            self._store.save(states, now)
        except StorageError as exc:
            self.storage.failed("state", exc)
            return
        self.storage.succeeded("state")
        self._saved = signature

    def _resend(self, just_sent: set[LabelSet], held_more: bool) -> None:
        """Offer firing and held alerts each resend period, or at once when more were held."""
        if self.delivery is None:
            return
        due = self.delivery.due(self.monotonic(), force=held_more)
        if not due:
            return
        firing = [
            WireAlert.firing(state, self._source(state))
            for labels, state in self.states.items()
            if state.status == "firing"
            and labels not in just_sent
            and labels not in self.held
            and self._pushes(state)
        ]
        batch = [*firing, *self.held.alerts()]
        if batch:
            for pusher in due:
                pusher.refresh(batch)

    def _source(self, alert: AlertState) -> str:
        """Return the alert's generatorURL: the agent's /metrics showing its rule's metric."""
        base = self.config.generator_base
        metric = self._metrics.get(alert.rule)
        return generator_url(base, metric) if base is not None and metric is not None else ""

    def _pushes(self, alert: AlertState) -> bool:
        """Tell whether an alert is pushed: not the dead-man alert where heartbeats do its job."""
        # At a bridge, which hears heartbeats, the always-firing alert would be one incident a host.
        return self.config.heartbeat is None or alert.label("alertname") != WATCHDOG_ALERT

    def health(self) -> tuple[bool, str]:
        """Tell /healthz and the watchdog whether cycles complete, and what is degraded."""
        healthy, text = self.cycles.healthy(self.monotonic(), STALE_CYCLES * self.config.interval)
        faults = self.storage.describe()
        return healthy, f"{text}; degraded: {faults}" if faults else text

    def reload(self, config: AgentConfig) -> None:
        """Switch to a new config, keeping alert state; sockets and threads change only if needed.

        The directories are checked and the /metrics listener moves first: if either cannot,
        ConfigError leaves everything as it was.
        """
        full = check_directories(config)
        self._rebind(config)
        old, self.config = self.config, config
        self._evaluator = Evaluator(config.rules, config.base_labels)
        self._metrics = _rule_metrics(config)
        self._history.use(config.rules)
        if config.checks != old.checks:
            self._checks = _service_checks(config, self.monotonic)
        if config.sampler != old.sampler:
            if self._sampler is not None:
                self._sampler.close()
            self._sampler = self.sampler_factory(config.sampler)
        if (config.receivers, config.spool, config.heartbeat, config.interval) != (
            old.receivers,
            old.spool,
            old.heartbeat,
            old.interval,
        ):
            if self.delivery is not None:
                self.delivery.stop()
            self._start_pusher()
        if config.state_dir != old.state_dir:
            self._store = StateStore(config.state_dir / STATE_FILE)
            self._saved = _UNSAVED
        self._degraded(full)
        log.info("reloaded %s: %d rules", config.source, len(config.rules))

    def _degraded(self, full: dict[str, StorageError]) -> None:
        """Start degraded on full directories: count them, and retry the state file each cycle."""
        for what, exc in full.items():
            self.storage.failed(what, exc)
        if "state" in full:
            self._saved = _UNSAVED

    def stop(self) -> None:
        """Save state, stop the sender (undelivered alerts stay spooled) and close the server."""
        try:
            self._store.save(self.states, self.clock())
        except StorageError as exc:
            log.error("%s; the active alerts will fire anew after the restart", exc)
        finally:
            if self.delivery is not None:
                self.delivery.stop()
            if self.server is not None:
                self.server.close()
            if self._sampler is not None:
                self._sampler.close()

    def request_stop(self) -> None:
        """Ask the loop to stop after the current step (SIGTERM)."""
        self._stopping.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Ask the loop to reload its config before the next step (SIGHUP)."""
        self._reload_requested.set()
        self._wake.set()

    def run(self, reload: Callable[[], AgentConfig] | None = None) -> None:
        """Loop until request_stop(); `reload` builds the new config when a reload is requested."""
        self.start()
        try:
            self._tick_safely()
            if self.settle_collector:
                from tocsin.agent.gctune import settle

                settle(self.series_count)
            self.notifier.ready()
            next_tick = self.monotonic() + self.config.interval
            while not self._stopping.is_set():
                # Cycles that keep failing stop the pings: systemd restarts the agent.
                if self.health()[0]:
                    self.notifier.watchdog()
                wait = next_tick - self.monotonic()
                if self.notifier.watchdog_interval is not None:
                    wait = min(wait, self.notifier.watchdog_interval)
                if wait > 0:
                    self._wake.wait(wait)
                    self._wake.clear()
                if self._stopping.is_set():
                    break
                if self._reload_requested.is_set() and reload is not None:
                    self._reload_requested.clear()
                    self._reload(reload)
                if self.monotonic() >= next_tick:
                    self._tick_safely()
                    next_tick = max(next_tick + self.config.interval, self.monotonic())
        finally:
            self.notifier.stopping()
            self.stop()

    def _reload(self, load: Callable[[], AgentConfig]) -> None:
        self.notifier.reloading()
        try:
            self.reload(load())
        except LISTEN_FAULTS as exc:
            log.error("reload refused, keeping the running config: %s", exc)
        finally:
            self.notifier.ready()

    def _tick_safely(self) -> None:
        try:
            self.tick()
        except Exception as exc:  # logged and seen by /healthz and the watchdog, never fatal
            log.exception("cycle failed: %s", exc)


def install_signals(agent: Agent) -> None:
    """Route SIGTERM/SIGINT to a clean stop and SIGHUP to a reload."""

    # Handlers run on the main thread, possibly inside Event.wait's lock: set events elsewhere.
    def on_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        threading.Thread(target=agent.request_stop, daemon=True).start()

    def on_reload(signum: int, frame: FrameType | None) -> None:
        log.info("received SIGHUP: reloading")
        threading.Thread(target=agent.request_reload, daemon=True).start()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
