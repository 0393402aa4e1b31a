"""Multivariate time-series forecasting."""
