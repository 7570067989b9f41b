"""Reproducible performance runs; `make bench` writes docs/benchmarks.md."""
