"""Write the Prometheus text format exactly as prometheus_client's generate_latest() does, faster.

The sample's series are rendered by `SampleCollector.update()` straight from the Series, one
line each: a series' `name{labels} ` prefix is made once and reused while its label dict is
the same object (collectors reuse them), and its whole line while its value stays the same.
Every other family (the agent's self-metrics) goes through `TextRenderer`, which reuses headers
and label texts, and hands anything unusual (histograms, _created series, names outside the
classic charset) to generate_latest itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from math import copysign
from operator import is_
from typing import cast

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample as PromSample
from prometheus_client.utils import floatToGoString

from tocsin.agent.checks import HELP as CHECK_HELP
from tocsin.agent.collectors import HELP
from tocsin.agent.sample import Sample, Series
from tocsin.agent.selfmetrics import HELP as SELF_HELP

SAMPLE_DURATION = "tocsin_agent_sample_duration_seconds"
SAMPLE_DURATION_HELP = "Seconds the last sampling pass took."
HELP_TEXT = {**HELP, **SELF_HELP, **CHECK_HELP, SAMPLE_DURATION: SAMPLE_DURATION_HELP}
_LEGACY_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_PLAIN_TYPES = {"gauge": "gauge", "counter": "counter", "unknown": "untyped"}
# Go's float format, +Inf and NaN, as prometheus_client writes them; below 1e6 it is repr().
_go_float = cast(Callable[[float], str], floatToGoString)


def number(value: float) -> str:
    """Return a sample value as generate_latest writes it."""
    return repr(float(value)) if -1e300 < value < 1e6 else _go_float(value)


class SampleFamily(Metric):
    """One metric of the sample: its text rendered by update(), its samples made only if asked.

    `text` is None when the family needs generate_latest's own writer (a label name outside the
    classic charset); `samples` is what generate_latest and tests read.
    """

    def __init__(self, name: str, documentation: str, kind: str) -> None:
        self.members: Sequence[Series] = ()
        self.text: str | None = None
        self._lines: dict[int, _Line] = {}
        # A counter family is named without _total; its samples carry the suffix.
        super().__init__(
            name.removesuffix("_total") if kind == "counter" else name, documentation, kind
        )
        self.header = _header(self)

    def render(self) -> None:
        """Render the members into `text`, reusing the lines of series that did not change."""
        header = self.header
        if header is None:
            self.text = None
            return
        previous, lines = self._lines, {}
        texts = [header[1]]
        append = texts.append
        for one in self.members:
            labels = one.labels
            key = id(labels)
            line = previous.get(key)
            if line is None or line.labels is not labels:
                prefix = _prefix(one.name, labels)
                if prefix is None:
                    self.text = None
                    return
                line = _Line(prefix, labels)
            lines[key] = line
            # A collector passes the same Series on while its source stands still.
            if line.series is not one:
                line.series = one
                value = one.value
                # 0.0 == -0.0, yet they are written differently.
                if line.value != value or (value == 0 and copysign(1, value) != line.sign):
                    line.value = value
                    if value == 0:
                        line.sign = copysign(1, value)
                    # repr() is generate_latest's own format for a float below 1e6.
                    text = repr(value) if type(value) is float and -1e6 < value < 1e6 else None
                    line.line = f"{line.prefix}{text or number(value)}\n"
            append(line.line)
        # Lines by id(labels): each holds its label dict, so no other dict takes that id while
        # it is kept; series gone since the last render are forgotten.
        self._lines = lines
        self.text = "".join(texts)

    @property
    def samples(self) -> list[PromSample]:
        """Return the members as prometheus_client samples."""
        return [PromSample(one.name, dict(one.labels), one.value) for one in self.members]

    @samples.setter
    def samples(self, value: list[PromSample]) -> None:
        # Metric.__init__ starts every family with no samples; a sample family's are its members.
        if value:
            raise ValueError("a sample family's samples are its members")


class _Line:
    """One series' rendered line, kept while its label dict is the same object."""

    __slots__ = ("labels", "line", "prefix", "series", "sign", "value")

    def __init__(self, prefix: str, labels: object) -> None:
        self.labels = labels
        self.prefix = prefix
        self.series: Series | None = None
        self.value: float | None = None
        self.sign = 1.0
        self.line = ""


class SampleCollector(Collector):
    """Turn the latest Sample into rendered metric families, once per update."""

    def __init__(self) -> None:
        self._families: list[SampleFamily] = []
        # One family object per metric name, refilled each update: the names hardly ever change.
        self._known: dict[str, SampleFamily] = {}

    def update(self, sample: Sample) -> None:
        """Replace what the next render publishes with this sample."""
        members: dict[str, list[Series]] = {}
        get = members.get
        for kind, series in (("gauge", sample.gauges), ("counter", sample.counters)):
            for one in series:
                group = get(one.name)
                if group is None:
                    group = members[one.name] = []
                    self._family(one.name, kind)
                group.append(one)
        members[SAMPLE_DURATION] = [Series(SAMPLE_DURATION, {}, sample.duration_seconds)]
        families = []
        for name, group in members.items():
            family = self._family(name, "gauge")
            before = family.members
            family.members = group
            # The very same Series as last time (collectors pass them on while their source
            # stands still): the text stands too. Compared by identity, in C.
            if len(before) != len(group) or not all(map(is_, before, group)):
                family.render()
            families.append(family)
        self._families = families

    def collect(self) -> Iterator[Metric]:
        """Yield the families of the last update (none before the first)."""
        return iter(self._families)

    def _family(self, name: str, kind: str) -> SampleFamily:
        family = self._known.get(name)
        if family is None:
            family = self._known[name] = SampleFamily(name, HELP_TEXT.get(name, name), kind)
        return family


def _prefix(name: str, labels: object) -> str | None:
    """Return `name{a="1"} ` for a series, or None when a label name needs generate_latest."""
    if not labels:
        return f"{name} "
    text = _label_text(tuple(cast(dict[str, str], labels).items()))
    return None if text is None else f"{name}{{{text}}} "


def render(registry: Collector) -> bytes:
    """Render a registry in the Prometheus text format once, as generate_latest() would."""
    return TextRenderer()(registry)


class TextRenderer:
    """Write the Prometheus text format exactly as generate_latest() does, at a third of its cost.

    Sample families arrive rendered; other gauges and counters take a direct path that reuses
    each family's header and each label set's text from earlier renders; any other family goes
    through generate_latest itself.
    """

    _CACHE_LIMIT = 4096

    def __init__(self) -> None:
        self._headers: dict[tuple[str, str, str], tuple[str, str] | None] = {}
        self._labels: dict[tuple[tuple[str, str], ...], str | None] = {}

    def __call__(self, registry: Collector) -> bytes:
        """Render every family the registry yields, in order."""
        parts: list[str] = []
        for family in registry.collect():
            text = family.text if isinstance(family, SampleFamily) else self._family(family)
            parts.append(text if text is not None else generate_latest(_One(family)).decode())
        if len(self._labels) > self._CACHE_LIMIT or len(self._headers) > self._CACHE_LIMIT:
            self._labels.clear()
            self._headers.clear()
        return "".join(parts).encode()

    def _family(self, family: Metric) -> str | None:
        key = (family.name, family.type, family.documentation)
        try:
            header = self._headers[key]
        except KeyError:
            header = self._headers[key] = _header(family)
        if header is None:
            return None
        name, text = header
        lines = [text]
        for sample in family.samples:
            if sample.name != name or sample.timestamp is not None or sample.native_histogram:
                return None
            if not sample.labels:
                lines.append(f"{name} {number(sample.value)}\n")
                continue
            pairs = tuple(sample.labels.items())
            try:
                labels = self._labels[pairs]
            except KeyError:
                labels = self._labels[pairs] = _label_text(pairs)
            if labels is None:
                return None
            lines.append(f"{name}{{{labels}}} {number(sample.value)}\n")
        return "".join(lines)


def _header(family: Metric) -> tuple[str, str] | None:
    """Return the sample name and HELP/TYPE lines of a gauge or counter family, else None."""
    mtype = _PLAIN_TYPES.get(family.type)
    if mtype is None:
        return None
    name = family.name + "_total" if family.type == "counter" else family.name
    if _LEGACY_NAME.match(name) is None:
        return None
    help_text = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    return name, f"# HELP {name} {help_text}\n# TYPE {name} {mtype}\n"


def _label_text(pairs: tuple[tuple[str, str], ...]) -> str | None:
    """Return `a="1",b="2"` sorted by name with values escaped, or None for an odd label name."""
    texts = []
    for key, value in sorted(pairs):
        if _LEGACY_LABEL.match(key) is None:
            return None
        escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        texts.append(f'{key}="{escaped}"')
    return ",".join(texts)


class _One:
    """One family posing as a registry, for generate_latest."""

    def __init__(self, family: Metric) -> None:
        self._family = family

    def collect(self) -> Iterator[Metric]:
        yield self._family
