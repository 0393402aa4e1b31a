"""The kerasdl apps, installed as `kerasdl.apps` (see pyproject's package-dir)."""
