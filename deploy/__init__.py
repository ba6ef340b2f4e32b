"""Deployment examples, and helpers that run them on loopback for tests and benchmarks."""
