"""Reproducible benchmarks: each module prints Tocsin's figures beside its peer's, in one run."""
