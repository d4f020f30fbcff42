"""Site-specific metrics from a directory of *.prom files, as node_exporter's textfile collector.

Each file is parsed with prometheus_client's parser. A file that does not parse, cannot be
read, or uses a name under the agent's own `tocsin_` prefix is skipped whole, counted in
tocsin_textfile_scrape_error and noted once in the log; the other files still count.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tocsin.agent.collectors.base import Reading
from tocsin.agent.sample import Series

SCRAPE_ERROR = "tocsin_textfile_scrape_error"
MTIME = "tocsin_textfile_mtime_seconds"
HELP = {
    SCRAPE_ERROR: "Number of *.prom files in the textfile directory that could not be read "
    "or parsed in the last pass (node_textfile_scrape_error).",
    MTIME: "Modification time of each textfile read, in unixtime (node_textfile_mtime_seconds).",
}
# A runaway generator must not blow up the agent: a file past this size is refused.
MAX_FILE_BYTES = 1 << 20
_RESERVED = "tocsin_"


def parse_textfile(text: str) -> tuple[list[Series], list[Series]]:
    """Return a file's (gauges, counters); raise ValueError when it is not valid exposition text."""
    gauges: list[Series] = []
    counters: list[Series] = []
    # The parser types `# TYPE x counter` but files the `x_total` samples under an untyped family.
    counter_names: set[str] = set()
    for family in text_string_to_metric_families(text):
        if family.name.startswith(_RESERVED):
            raise ValueError(f"{family.name!r} uses the agent's own prefix {_RESERVED!r}")
        if family.type == "counter":
            counter_names.add(family.name + "_total")
        for sample in family.samples:
            is_counter = sample.name in counter_names
            if family.type == "counter" and not is_counter:
                continue  # the _created series prometheus_client adds to counters
            target = counters if is_counter else gauges
            target.append(Series(sample.name, dict(sample.labels), float(sample.value)))
    return gauges, counters


class TextfileCollector:
    """Read every *.prom file of one directory each pass, in name order."""

    def __init__(self, directory: str) -> None:
        self._directory = Path(directory)

    def collect(self, reading: Reading) -> None:
        """Append each good file's series, its mtime, and the count of bad files."""
        errors = 0
        try:
            paths = sorted(self._directory.iterdir())
        except OSError as exc:
            paths = []
            errors += 1
            reading.notes.append(f"textfile directory {self._directory} cannot be listed: {exc}")
        for path in paths:
            if path.suffix != ".prom":
                continue
            try:
                stat = path.stat()
                if stat.st_size > MAX_FILE_BYTES:
                    raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
                gauges, counters = parse_textfile(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError, IndexError, KeyError) as exc:
                # prometheus_client's parser reports bad text as ValueError, IndexError or KeyError.
                errors += 1
                reading.notes.append(f"textfile {path} skipped: {type(exc).__name__}: {exc}")
                continue
            reading.gauges.extend(gauges)
            reading.counters.extend(counters)
            reading.gauges.append(Series(MTIME, {"file": os.fspath(path.name)}, stat.st_mtime))
        reading.gauges.append(Series(SCRAPE_ERROR, {}, float(errors)))
