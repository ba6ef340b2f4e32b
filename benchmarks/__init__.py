"""Benchmarks: measured against references in the same run, reported as ratios."""
