"""The bridge's tables (SQLAlchemy Core); Alembic migrations in bridge/migrations create them.

Times are stored as timezone-aware UTC; JSON columns hold label sets and event payloads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

from tocsin.bridge.store import fulltext

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")
UtcTime = DateTime(timezone=True)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # The group key: alerts whose route group_by labels agree share it.
    Column("key", String(64), nullable=False),
    # Equal to key while the incident is open, NULL once resolved: the unique index lets only
    # one open incident per group exist, even with several replicas ingesting at once.
    Column("open_key", String(64), nullable=True, unique=True),
    Column("title", Text, nullable=False),
    # Who last edited the title by hand; while set, alert resends no longer retitle it.
    Column("title_edited_by", String(100), nullable=True),
    Column("summary", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("priority", String(8), nullable=False),
    Column("status", String(16), nullable=False),  # triggered|acknowledged|resolved|closed
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_at", UtcTime, nullable=True),
    Column("paused_seconds", Float, nullable=False, default=0.0),
    Column("source", String(16), nullable=False),  # alert|manual|heartbeat
    Column("service", String(200), nullable=True),
    Column("host", String(255), nullable=True),
    Column("team", String(100), nullable=True),
    Column("escalation_policy", String(100), nullable=True),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("major", Boolean, nullable=False, default=False),
    Column("assignee", String(100), nullable=True),
    Column("auto_resolve", Boolean, nullable=False, default=True),
    Column("reporter", String(200), nullable=True),
    Column("reporter_contact", String(200), nullable=True),
    # Where the bridge mails the reporter (receipt, public updates, resolution, survey), and in
    # which language (en | zh-CN; NULL: the reporter_mail default). Shown to staff only.
    Column("reporter_email", String(254), nullable=True),
    Column("reporter_language", String(8), nullable=True),
    Column("report_type", String(50), nullable=True),
    Column("labels", JSON, nullable=False, default=dict),
    Column("annotations", JSON, nullable=False, default=dict),
    Column("created_at", UtcTime, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
    Column("acknowledged_at", UtcTime, nullable=True),
    Column("acknowledged_by", String(100), nullable=True),
    Column("last_update_at", UtcTime, nullable=True),
    Column("resolved_at", UtcTime, nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("root_cause", Text, nullable=True),
    Column("solution", Text, nullable=True),
    Column("closed_at", UtcTime, nullable=True),
    Column("closed_by", String(100), nullable=True),
    Column("satisfaction", Integer, nullable=True),
    Column("satisfaction_by", String(16), nullable=True),  # reporter (the survey) | staff
    Column("close_comment", Text, nullable=True),
    Index("ix_incidents_status_priority", "status", "priority"),
    Index("ix_incidents_created_at", "created_at"),
    Index("ix_incidents_key", "key"),
    # The knowledge base lists documented incidents newest first.
    Index("ix_incidents_resolved_at", "resolved_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    # sha256 of the sorted label set: the alert's identity, whatever the sender calls it.
    Column("fingerprint", String(64), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False, default=dict),
    Column("status", String(16), nullable=False),  # firing|resolved
    Column("starts_at", UtcTime, nullable=False),
    Column("ends_at", UtcTime, nullable=True),
    Column("generator_url", Text, nullable=True),
    Column("first_received_at", UtcTime, nullable=False),
    Column("last_received_at", UtcTime, nullable=False),
    Column("receive_count", Integer, nullable=False, default=1),
    UniqueConstraint("fingerprint", "incident_id"),
    Index("ix_alerts_fingerprint_starts_at", "fingerprint", "starts_at"),
    Index("ix_alerts_incident_id", "incident_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),  # incident.triggered, incident.acknowledged, …
    Column("actor", String(100), nullable=True),  # person or token name; NULL for the system
    Column("occurred_at", UtcTime, nullable=False),
    Column("data", JSON, nullable=False, default=dict),
    Index("ix_events_incident_id_id", "incident_id", "id"),
    Index("ix_events_kind_occurred_at", "kind", "occurred_at"),
)

sla_clocks = Table(
    "sla_clocks",
    metadata,
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("clock", String(16), primary_key=True),  # response|update|resolution
    Column("target_seconds", Float, nullable=False),
    Column("calendar", String(100), nullable=True),
    Column("started_at", UtcTime, nullable=False),
    Column("due_at", UtcTime, nullable=True),  # NULL while paused
    Column("warn_at", UtcTime, nullable=True),
    Column(
        "remaining_seconds", Float, nullable=True
    ),  # kept while paused (business seconds for calendars)
    Column("stopped_at", UtcTime, nullable=True),  # the clock was met (or the incident resolved)
    # What stopped it: acknowledged | first_contact | person_resolved | resolved (by the sender)
    Column("stopped_by", String(32), nullable=True),
    Column("warned_at", UtcTime, nullable=True),
    Column("breached_at", UtcTime, nullable=True),
    Column("breach_reason", Text, nullable=True),
    Column("breach_exempt", Boolean, nullable=False, default=False),
    # A dispute of the breach and a manager's decision on it (reports/disputes.py).
    Column("dispute_reason", Text, nullable=True),
    Column("disputed_by", String(100), nullable=True),
    Column("disputed_at", UtcTime, nullable=True),
    Column("dispute_decision", String(16), nullable=True),  # upheld | exempted
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", UtcTime, nullable=True),
    Column("decision_note", Text, nullable=True),
)

timers = Table(
    "timers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "kind", String(32), nullable=False
    ),  # sla_warning|sla_breach|escalation|resolution_step|follow_up|heartbeat|report
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True),
    Column(
        "subject", String(255), nullable=True
    ),  # e.g. the host of a heartbeat timer, the clock of an SLA timer
    Column("due_at", UtcTime, nullable=False),
    Column("payload", JSON, nullable=False, default=dict),
    Column("created_at", UtcTime, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_until", UtcTime, nullable=True),
    Column("fired_at", UtcTime, nullable=True),
    Column("lag_seconds", Float, nullable=True),
    Column("cancelled", Boolean, nullable=False, default=False),
    Index("ix_timers_pending", "fired_at", "cancelled", "due_at"),
    Index("ix_timers_incident_id", "incident_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, ForeignKey("events.id", ondelete="SET NULL"), nullable=True),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    Column("channel", String(100), nullable=False),
    Column(
        "recipient", String(200), nullable=True
    ),  # person paged, when a page rather than a subscription
    Column("idempotency_key", String(100), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending|delivered|dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcTime, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_until", UtcTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcTime, nullable=False),
    Column("delivered_at", UtcTime, nullable=True),
    # A phone provider's id of the message or call, and its last status (sending while asked).
    Column("provider_ref", String(100), nullable=True),
    Column("provider_status", String(32), nullable=True),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_outbox_provider_ref", "provider_ref"),
    # A claim looks for an incident's rows to the channel held elsewhere (notify.queue).
    Index("ix_outbox_incident_id_channel", "incident_id", "channel"),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("interval_seconds", Float, nullable=False),
    Column("labels", JSON, nullable=False, default=dict),
    Column("first_seen_at", UtcTime, nullable=False),
    Column("last_seen_at", UtcTime, nullable=False),
    Column(
        "silent_incident_id", Id, ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True
    ),
    # last_seen_at + missed intervals; NULL once the host is silent (its incident is open).
    Column("deadline_at", UtcTime, nullable=True),
    Index("ix_heartbeats_deadline_at", "deadline_at"),
)

# One-click acknowledge links are single use: a used nonce is kept until the link expires.
used_links = Table(
    "used_links",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("used_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
)

# Maintenance windows set through the API, the CLI, the board or an agent (the policy's recurring
# windows are not stored: they are read from the policy). A weekly window (days set) opens on
# those days at day_start until day_end in its timezone, from first_day to until_day (local);
# its starts_at/ends_at bound every occurrence (ends_at far ahead when it has no last date).
maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("matchers", JSON, nullable=False),  # ["instance=db1", "service=~api.*"]
    Column("starts_at", UtcTime, nullable=False),
    Column("ends_at", UtcTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(200), nullable=True),
    Column("source", String(16), nullable=False),  # api|cli|web|agent
    Column("created_at", UtcTime, nullable=False),
    Column("ended_at", UtcTime, nullable=True),  # ended early by a person
    Column("ended_by", String(200), nullable=True),
    Column("days", String(32), nullable=True),  # "sat,sun": weekly; NULL: one-off
    Column("day_start", String(5), nullable=True),  # "02:00"
    Column("day_end", String(5), nullable=True),  # "04:00"; before day_start: past midnight
    Column("timezone", String(64), nullable=True),  # IANA, "Asia/Shanghai"
    Column("first_day", Date, nullable=True),
    Column("until_day", Date, nullable=True),
    Index("ix_maintenance_windows_ends_at", "ends_at"),
)

# Every change of a window, with the person who made it.
maintenance_audit = Table(
    "maintenance_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("window", String(100), nullable=False),  # "12" or "policy:NAME"
    Column("action", String(16), nullable=False),  # created|extended|ended|released
    Column("actor", String(200), nullable=True),
    Column("at", UtcTime, nullable=False),
    Column("data", JSON, nullable=False, default=dict),
)

# Alerts that would have opened an incident while a window covered them: stored, shown, paged
# by nobody; still firing when their window ends, they open an incident then.
maintenance_alerts = Table(
    "maintenance_alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("window", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False, default=dict),
    Column("generator_url", Text, nullable=True),
    Column("starts_at", UtcTime, nullable=False),
    Column("ends_at", UtcTime, nullable=True),
    Column("status", String(16), nullable=False),  # firing|resolved|released
    Column("first_received_at", UtcTime, nullable=False),
    Column("last_received_at", UtcTime, nullable=False),
    Column("release_at", UtcTime, nullable=False),  # the end of the window that holds it
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
    Index("ix_maintenance_alerts_fingerprint", "fingerprint", "status"),
    Index("ix_maintenance_alerts_status_release_at", "status", "release_at"),
)

# People who sign in: the policy's people and those an admin added. A row holds what the policy
# does not: a password hash, a role an admin set, whether the account is disabled.
accounts = Table(
    "accounts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("full_name", String(200), nullable=True),
    Column("role", String(20), nullable=True),  # None: the policy's role, else responder
    Column("password_hash", String(200), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcTime, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
)

# Signed-in browser sessions: the cookie carries a random id, the row its sha256.
account_sessions = Table(
    "account_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("method", String(16), nullable=False),  # password|oidc|token
    Column("created_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    Column("revoked_at", UtcTime, nullable=True),
    Column("address", String(64), nullable=True),
    Index("ix_account_sessions_name", "name"),
)

# Per-person API tokens and one-time invite links, stored as sha256 digests only.
account_tokens = Table(
    "account_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),  # the person it acts as
    Column("kind", String(10), nullable=False),  # api|invite
    Column("label", String(100), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("created_by", String(100), nullable=True),
    Column("expires_at", UtcTime, nullable=True),
    Column("last_used_at", UtcTime, nullable=True),
    Column("revoked_at", UtcTime, nullable=True),
    Index("ix_account_tokens_name", "name"),
)


# Documented incidents whose text or status changed since the knowledge base indexed them:
# database triggers add a row on every such change (store/fulltext.py), kb/index.py drains it.
kb_stale = Table(
    "kb_stale",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("incident_id", Id, nullable=False),
    Index("ix_kb_stale_incident_id", "incident_id"),
)


# The full-text table and the triggers that feed kb_stale, which the metadata cannot describe.
@event.listens_for(metadata, "after_create")
def _create_fulltext(target: MetaData, connection: Connection, **kw: Any) -> None:
    fulltext.create(connection)


@event.listens_for(metadata, "before_drop")
def _drop_fulltext(target: MetaData, connection: Connection, **kw: Any) -> None:
    fulltext.drop(connection)
