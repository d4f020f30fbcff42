"""The knowledge base: resolved incidents found again by likeness or by words.

Owns the search over resolved incidents. May import store, policy and platform.
"""
