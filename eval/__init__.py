"""Evaluation: metrics, public benchmark readers and evaluation suites for seedrag."""
