"""Alert ingestion: parse senders' payloads, then apply each alert to the stored incidents.

Owns parsing, grouping into incidents, heartbeats and silent-host checks. May import incidents,
sla and everything below; it states what it needs of the runtime as a Protocol (service.Parts).
"""
