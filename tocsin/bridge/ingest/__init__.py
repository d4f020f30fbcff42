"""Alert ingestion: parse senders' payloads, then apply each alert to the stored incidents."""
