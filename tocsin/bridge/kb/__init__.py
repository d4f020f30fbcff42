"""The knowledge base: resolved incidents found again by likeness or by words."""
