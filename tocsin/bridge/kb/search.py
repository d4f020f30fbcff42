"""The knowledge base: past incidents with a root cause or solution, found by likeness or by words.

Similar incidents rank the same alert on the same service first, then by label overlap and text
similarity (TF-IDF cosine). Text is split into English words and, for Chinese and other CJK
scripts, overlapping character pairs, so Chinese matches without a word segmenter. The database's
full-text index (store/fulltext.py) picks the candidates: the newest documented incidents holding
every word of the query, topped up with those holding any of them, plus incidents whose change
the index has not taken in yet (kb_stale); only those few are scored here, however long the
history.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select

from tocsin.bridge.errors import NotFound
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.store import fulltext
from tocsin.bridge.store.schema import incidents, kb_stale

CANDIDATES = 50  # newest matches the index gives: with every word, then with any of them
STALE_SCAN = 100  # newest changes not yet indexed that a lookup reads as well
MAX_QUERY_TERMS = 64  # distinct words of a query or an incident's text asked of the index
# Newest documented incidents of the same alert and service scanned for a page's resolutions.
# Pages go out in bursts; scanning the whole history took 240 ms a page with 5,000 incidents.
SAME_ALERT_SCAN = 100
MIN_SCORE = 0.05
STOPWORDS = frozenset(
    "a an and are as at be by for from has in is it its of on or that the this to was were with".split()
)
_TOKEN = re.compile(
    r"[a-z0-9_]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+"
)
_NOT_WORD = re.compile(r"[^a-z0-9_]")


def tokens(text: str) -> list[str]:
    """Split text into English words (lower case, plural s dropped) and CJK character bigrams."""
    found: list[str] = []
    for run in _TOKEN.findall(text.lower()):
        if _NOT_WORD.match(run):
            found.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        elif run not in STOPWORDS and len(run) > 1:
            found.append(run[:-1] if len(run) > 3 and run.endswith("s") and run[-2] != "s" else run)
    return found


@dataclass(frozen=True)
class Entry:
    """An incident as the knowledge base sees it."""

    id: int
    title: str
    priority: str
    service: str | None
    status: str
    labels: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    root_cause: str | None = None
    solution: str | None = None
    resolved_at: datetime | None = None

    @property
    def alertname(self) -> str | None:
        """Return the alertname label, the alert's rule."""
        return self.labels.get("alertname")


@dataclass(frozen=True)
class Match:
    """A past incident and why it matched."""

    entry: Entry
    same_alert: bool
    label_overlap: float
    text_similarity: float
    score: float  # 0-1: labels and text weighed equally, or the text alone for a word search


class _Corpus:
    """TF-IDF vectors over a set of documents and one query."""

    def __init__(self, documents: Sequence[str], query: str) -> None:
        self.bags = [Counter(tokens(d)) for d in documents]
        self.query = Counter(tokens(query))
        df: Counter[str] = Counter()
        for bag in [*self.bags, self.query]:
            df.update(bag.keys())
        n = len(self.bags) + 1
        self.idf = {term: math.log((n + 1) / (count + 1)) + 1 for term, count in df.items()}

    def _vector(self, bag: Counter[str]) -> dict[str, float]:
        return {term: count * self.idf[term] for term, count in bag.items()}

    def similarities(self) -> list[float]:
        """Return the cosine of the query with each document."""
        query = self._vector(self.query)
        query_norm = math.sqrt(sum(v * v for v in query.values()))
        result = []
        for bag in self.bags:
            doc = self._vector(bag)
            norm = math.sqrt(sum(v * v for v in doc.values())) * query_norm
            dot = sum(weight * doc.get(term, 0.0) for term, weight in query.items())
            result.append(dot / norm if norm else 0.0)
        return result


def _jaccard(a: Mapping[str, str], b: Mapping[str, str]) -> float:
    left, right = set(a.items()), set(b.items())
    return len(left & right) / len(left | right) if left | right else 0.0


def _ordered(matches: Iterable[Match], limit: int) -> list[Match]:
    kept = [m for m in matches if m.same_alert or m.score >= MIN_SCORE]
    newest = sorted(kept, key=lambda m: as_utc(m.entry.resolved_at or datetime.min), reverse=True)
    return sorted(newest, key=lambda m: (m.same_alert, m.score), reverse=True)[:limit]


def rank_similar(target: Entry, candidates: Sequence[Entry], limit: int = 5) -> list[Match]:
    """Rank past incidents by likeness to one incident: same alert and service, labels, text."""
    others = [c for c in candidates if c.id != target.id]
    texts = _Corpus([c.text for c in others], target.text).similarities()
    return _ordered(
        (
            Match(
                entry=c,
                same_alert=target.alertname is not None
                and c.alertname == target.alertname
                and c.service == target.service,
                label_overlap=labels,
                text_similarity=text,
                score=(labels + text) / 2,
            )
            for c, text in zip(others, texts, strict=True)
            for labels in [_jaccard(target.labels, c.labels)]
        ),
        limit,
    )


def rank_text(query: str, candidates: Sequence[Entry], limit: int = 10) -> list[Match]:
    """Rank past incidents by how well their text matches the words of a query."""
    texts = _Corpus([c.text for c in candidates], query).similarities()
    return _ordered(
        (
            Match(c, False, 0.0, text, text)
            for c, text in zip(candidates, texts, strict=True)
            if text
        ),
        limit,
    )


def document_text(row: Any) -> str:
    """Return the text of an incident row the knowledge base reads: what happened and the fix."""
    parts = (row.title, row.summary, row.description, row.root_cause, row.solution)
    return "\n".join(p for p in parts if p)


def _entry(row: Any) -> Entry:
    return Entry(
        id=int(row.id),
        title=row.title,
        priority=row.priority,
        service=row.service,
        status=row.status,
        labels={str(k): str(v) for k, v in (row.labels or {}).items()},
        text=document_text(row),
        root_cause=row.root_cause,
        solution=row.solution,
        resolved_at=as_utc(row.resolved_at) if row.resolved_at is not None else None,
    )


# Resolved or closed, with a root cause or a solution: knowledge. Always asked with a few ids:
# the status goes through coalesce so that SQLite looks those ids up rather than walk the
# status index over every resolved incident (0.2-0.5 s at 1,000,000 incidents).
DOCUMENTED = (
    func.coalesce(incidents.c.status, "").in_(("resolved", "closed")),
    or_(incidents.c.solution.is_not(None), incidents.c.root_cause.is_not(None)),
)
_NEWEST = (incidents.c.resolved_at.desc(), incidents.c.id.desc())
_SAME_ALERT = (
    select(incidents)
    .where(
        incidents.c.id.in_(bindparam("ids", expanding=True)),
        *DOCUMENTED,
        incidents.c.labels["alertname"].as_string() == bindparam("alertname"),
        incidents.c.service.is_not_distinct_from(bindparam("service")),
    )
    .order_by(*_NEWEST)
    .limit(bindparam("scan"))
)
# Incidents of one alert the index gives per lookup, before the service is compared.
SAME_ALERT_CANDIDATES = 400
_INCIDENT = select(incidents).where(incidents.c.id == bindparam("id"))
_STALE = select(kb_stale.c.incident_id).order_by(kb_stale.c.seq.desc()).limit(STALE_SCAN)


def _candidates(conn: Connection, text: str) -> list[Entry]:
    """Return the documented incidents the index finds for the words of a text, newest first."""
    terms = list(dict.fromkeys(tokens(text)))[:MAX_QUERY_TERMS]
    if not terms:
        return []
    every = fulltext.matching(conn, terms, True, CANDIDATES)
    some = (
        fulltext.matching(conn, terms, False, CANDIDATES - len(every))
        if len(every) < CANDIDATES
        else []
    )
    ids = {*every, *some, *(int(i) for i in conn.execute(_STALE).scalars())}
    if not ids:
        return []
    query = select(incidents).where(incidents.c.id.in_(sorted(ids)), *DOCUMENTED)
    return [_entry(row) for row in conn.execute(query.order_by(*_NEWEST))]


def incident_query(conn: Connection, incident_id: int) -> Entry:
    """Return a stored incident as a query (see query_of)."""
    row = conn.execute(_INCIDENT, {"id": incident_id}).first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return query_of(row._mapping)


def query_of(incident: Mapping[Any, Any]) -> Entry:
    """Return an incident, as a row or as the API shows it, as a query: only its reported
    facts, not its own resolution."""
    parts = (incident.get("title"), incident.get("summary"), incident.get("description"))
    return Entry(
        id=int(incident["id"]),
        title=str(incident.get("title") or ""),
        priority=str(incident.get("priority") or ""),
        service=incident.get("service"),
        status=str(incident.get("status") or ""),
        labels={str(k): str(v) for k, v in (incident.get("labels") or {}).items()},
        text="\n".join(str(p) for p in parts if p),
    )


def similar(conn: Connection, incident_id: int, limit: int = 5) -> list[Match]:
    """Return the past incidents with a root cause or solution most like this incident."""
    target = incident_query(conn, incident_id)
    found = {e.id: e for e in [*_same_alert_entries(conn, target), *_candidates(conn, target.text)]}
    return rank_similar(target, list(found.values()), limit)


def alert_term(alertname: str) -> str:
    """Return the index term of an alert name: one word, apart from the words of any text."""
    return "alert_" + _NOT_WORD.sub("_", alertname.lower())


def index_terms(row: Any) -> list[str]:
    """Return what the index keeps of a documented incident: its words and its alert's name."""
    alertname = (row.labels or {}).get("alertname")
    return tokens(document_text(row)) + ([alert_term(str(alertname))] if alertname else [])


def _same_alert_entries(conn: Connection, target: Entry) -> list[Entry]:
    if target.alertname is None:
        return []
    term = alert_term(target.alertname)
    ids = {
        *fulltext.matching(conn, [term], True, SAME_ALERT_CANDIDATES),
        *(int(i) for i in conn.execute(_STALE).scalars()),
    }
    if not ids:
        return []
    found = conn.execute(
        _SAME_ALERT,
        {
            "ids": sorted(ids),
            "alertname": target.alertname,
            "service": target.service,
            "scan": SAME_ALERT_SCAN,
        },
    )
    return [_entry(row) for row in found]


def same_alert(
    conn: Connection,
    target: Entry,
    limit: int = 5,
    memo: dict[tuple[str | None, str | None], list[Entry]] | None = None,
) -> list[Match]:
    """Return past documented incidents of the same alert on the same service, likest first.

    What a page lists. The index gives the newest SAME_ALERT_CANDIDATES of the alert; of those
    on the service the newest SAME_ALERT_SCAN are ranked, so a burst of pages costs a few
    milliseconds each however long the history. Pages written in one transaction may share a
    `memo`: a storm of one alert on one service reads its candidates once.
    """
    key = (target.alertname, target.service)
    candidates = memo.get(key) if memo is not None else None
    if candidates is None:
        candidates = _same_alert_entries(conn, target)
        if memo is not None:
            memo[key] = candidates
    if not candidates:
        return []  # the usual storm: an alert nobody documented yet; nothing to rank
    return [m for m in rank_similar(target, candidates, limit) if m.same_alert]


def same_alert_of(
    conn: Connection,
    incident: Mapping[str, Any],
    limit: int = 5,
    memo: dict[tuple[str | None, str | None], list[Entry]] | None = None,
) -> list[Match]:
    """Return same_alert for an incident as the API shows it (a page's).

    Its query is not built when the memo already found nothing documented for its alert and
    service: a storm's every page but the first.
    """
    alertname = (incident.get("labels") or {}).get("alertname")
    key = (None if alertname is None else str(alertname), incident.get("service"))
    if memo is not None and memo.get(key) == []:
        return []
    return same_alert(conn, query_of(incident), limit, memo)


def search(conn: Connection, text: str, limit: int = 10) -> list[Match]:
    """Return the past incidents whose text best matches the words given."""
    return rank_text(text, _candidates(conn, text), limit)


def match_to_dict(match: Match) -> dict[str, Any]:
    """Return a match as the API and CLI give it."""
    entry = match.entry
    return {
        "id": entry.id,
        "title": entry.title,
        "priority": entry.priority,
        "service": entry.service,
        "status": entry.status,
        "resolved_at": rfc3339(entry.resolved_at),
        "root_cause": entry.root_cause,
        "solution": entry.solution,
        "same_alert": match.same_alert,
        "label_overlap": round(match.label_overlap, 4),
        "text_similarity": round(match.text_similarity, 4),
        "score": round(match.score, 4),
    }
