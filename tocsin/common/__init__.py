"""Helpers both programs share; imports only the standard library and pyyaml."""
