"""Serving SavedModels over TF Serving's REST API, and its client."""
