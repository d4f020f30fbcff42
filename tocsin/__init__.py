"""Tocsin: a host monitoring agent (tocsin.agent) and an alert-to-incident bridge (tocsin.bridge).

The two programs share only tocsin.common, a few helpers that import nothing heavy.
"""
