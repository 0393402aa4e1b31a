"""Metrics reports and plots (numpy and matplotlib only)."""
