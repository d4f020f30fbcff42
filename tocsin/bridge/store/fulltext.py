"""The knowledge base's full-text index: SQLite FTS5 or a PostgreSQL tsvector with a GIN index.

Neither database splits Chinese into words, so the bridge writes the terms itself: English words
and overlapping CJK character pairs (kb/search.py tokens), space-separated. SQLite's unicode61
tokenizer then keeps each pair whole; PostgreSQL stores them as lexemes verbatim (no parser).
A query is the same terms joined by AND or OR, so '超时' finds '连接超时' on both.

Triggers queue a documented incident (one with a root cause or solution) in kb_stale whenever
its text or status changes, whatever code wrote it; kb/index.py turns the queue into index
rows. The table `kb_fts` and the triggers are outside the SQLAlchemy metadata (a virtual table
and trigger functions it cannot describe): this module creates them, for the migration and for
metadata.create_all alike, and creating them again is harmless (create_all runs at every start).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, TextClause, text

FTS_TABLE = "kb_fts"
TEXT_COLUMNS = "title, summary, description, root_cause, solution, status"
DOCUMENTED_NEW = "new.root_cause IS NOT NULL OR new.solution IS NOT NULL"
DOCUMENTED_OLD = "old.root_cause IS NOT NULL OR old.solution IS NOT NULL"

CREATE = {
    "sqlite": (
        # detail=none: the index answers which rows hold a term, all the search asks; '_' is
        # part of a word, as in the terms.
        "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(terms, detail=none, "
        "tokenize=\"unicode61 tokenchars '_'\")",
        "CREATE TRIGGER IF NOT EXISTS kb_stale_insert AFTER INSERT ON incidents "
        f"WHEN {DOCUMENTED_NEW} "
        "BEGIN INSERT INTO kb_stale (incident_id) VALUES (new.id); END",
        f"CREATE TRIGGER IF NOT EXISTS kb_stale_update AFTER UPDATE OF {TEXT_COLUMNS} ON incidents "
        f"WHEN {DOCUMENTED_NEW} OR {DOCUMENTED_OLD} "
        "BEGIN INSERT INTO kb_stale (incident_id) VALUES (new.id); END",
        "CREATE TRIGGER IF NOT EXISTS kb_forget AFTER DELETE ON incidents "
        "BEGIN DELETE FROM kb_fts WHERE rowid = old.id; END",
    ),
    "postgresql": (
        "CREATE TABLE IF NOT EXISTS kb_fts (incident_id BIGINT PRIMARY KEY "
        "REFERENCES incidents (id) ON DELETE CASCADE, terms TSVECTOR NOT NULL)",
        "CREATE INDEX IF NOT EXISTS ix_kb_fts_terms ON kb_fts USING gin (terms)",
        "CREATE OR REPLACE FUNCTION kb_mark_stale() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO kb_stale (incident_id) VALUES (NEW.id); RETURN NULL; END $$",
        "CREATE OR REPLACE TRIGGER kb_stale_insert AFTER INSERT ON incidents FOR EACH ROW "
        f"WHEN ({DOCUMENTED_NEW.replace('new.', 'NEW.')}) EXECUTE FUNCTION kb_mark_stale()",
        f"CREATE OR REPLACE TRIGGER kb_stale_update AFTER UPDATE OF {TEXT_COLUMNS} ON incidents "
        f"FOR EACH ROW WHEN ({DOCUMENTED_NEW.replace('new.', 'NEW.')} OR "
        f"{DOCUMENTED_OLD.replace('old.', 'OLD.')}) EXECUTE FUNCTION kb_mark_stale()",
    ),
}
DROP = {
    "sqlite": (
        "DROP TRIGGER IF EXISTS kb_forget",
        "DROP TRIGGER IF EXISTS kb_stale_update",
        "DROP TRIGGER IF EXISTS kb_stale_insert",
        "DROP TABLE IF EXISTS kb_fts",
    ),
    "postgresql": (
        "DROP TRIGGER IF EXISTS kb_stale_update ON incidents",
        "DROP TRIGGER IF EXISTS kb_stale_insert ON incidents",
        "DROP FUNCTION IF EXISTS kb_mark_stale()",
        "DROP TABLE IF EXISTS kb_fts",
    ),
}
_WRITE = {
    "sqlite": (
        text("DELETE FROM kb_fts WHERE rowid = :id"),
        text("INSERT INTO kb_fts (rowid, terms) VALUES (:id, :terms)"),
    ),
    "postgresql": (
        text("DELETE FROM kb_fts WHERE incident_id = :id"),
        # Two replicas may index one incident at once: the later write wins, neither fails.
        text(
            "INSERT INTO kb_fts (incident_id, terms) VALUES (:id, CAST(:terms AS tsvector)) "
            "ON CONFLICT (incident_id) DO UPDATE SET terms = EXCLUDED.terms"
        ),
    ),
}
_MATCH = {
    "sqlite": text(
        "SELECT rowid FROM kb_fts WHERE kb_fts MATCH :query ORDER BY rowid DESC LIMIT :limit"
    ),
    # A GIN index gives every match, unordered: a word in a third of the history meant fetching
    # and sorting some 60,000 rows for the newest 50. The newest RECENT rows are checked first,
    # in the primary key's order; the index is asked only for older matches, when they fall short.
    "postgresql": text(
        "SELECT incident_id FROM (SELECT incident_id, terms FROM kb_fts "
        "ORDER BY incident_id DESC LIMIT :recent) AS newest "
        "WHERE terms @@ CAST(:query AS tsquery) ORDER BY incident_id DESC LIMIT :limit"
    ),
}
_OLDER = text(
    "SELECT incident_id FROM kb_fts WHERE terms @@ CAST(:query AS tsquery) AND incident_id < "
    "(SELECT min(incident_id) FROM (SELECT incident_id FROM kb_fts "
    "ORDER BY incident_id DESC LIMIT :recent) AS newest) "
    "ORDER BY incident_id DESC LIMIT :limit"
)
RECENT = 1000  # newest index rows PostgreSQL checks one by one before asking the GIN index
# PostgreSQL refuses lexemes over 2,047 bytes; no real word comes near this.
MAX_TERM = 200


def create(conn: Connection) -> None:
    """Create the full-text table and the triggers (after the tables they refer to)."""
    for statement in CREATE[conn.dialect.name]:
        conn.exec_driver_sql(statement)


def drop(conn: Connection) -> None:
    """Drop the triggers and the full-text table."""
    for statement in DROP[conn.dialect.name]:
        conn.exec_driver_sql(statement)


def is_fts_object(name: str | None) -> bool:
    """Return whether a table belongs to the index this module keeps (FTS5 adds shadow tables)."""
    return name is not None and name.startswith(FTS_TABLE)


def _quoted(terms: Sequence[str], dialect: str) -> list[str]:
    # Terms are words of [a-z0-9_] or CJK characters: no quote can occur inside one.
    mark = '"' if dialect == "sqlite" else "'"
    return [f"{mark}{term}{mark}" for term in sorted({t[:MAX_TERM] for t in terms})]


def write(conn: Connection, entries: Sequence[tuple[int, Sequence[str] | None]]) -> None:
    """Replace incidents' index rows with their terms; one whose terms are None or empty goes."""
    if not entries:
        return
    dialect = conn.dialect.name
    remove, add = _WRITE[dialect]
    conn.execute(remove, [{"id": incident_id} for incident_id, _ in entries])
    kept = []
    for incident_id, terms in entries:
        if terms:
            # FTS5 reads the bare words; a tsvector's text form quotes each lexeme.
            quoted = _quoted(terms, dialect)
            value = (
                " ".join(q.strip('"') for q in quoted) if dialect == "sqlite" else " ".join(quoted)
            )
            kept.append({"id": incident_id, "terms": value})
    if kept:
        conn.execute(add, kept)


def matching(conn: Connection, terms: Sequence[str], every: bool, limit: int) -> list[int]:
    """Return the newest incident ids whose index row holds every term (or any of them)."""
    if not terms:
        return []
    dialect = conn.dialect.name
    joiner = (" AND " if every else " OR ") if dialect == "sqlite" else (" & " if every else " | ")
    query = joiner.join(_quoted(terms, dialect))
    statement: TextClause = _MATCH[dialect]
    values = {"query": query, "limit": limit, "recent": RECENT}
    found = [int(i) for i in conn.execute(statement, values).scalars()]
    if dialect == "postgresql" and len(found) < limit:
        values["limit"] = limit - len(found)
        found.extend(int(i) for i in conn.execute(_OLDER, values).scalars())
    return found
