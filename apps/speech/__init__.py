"""Spoken command recognition (keyword spotting)."""
