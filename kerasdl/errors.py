"""Errors that reach the user as one clear line."""


class KerasdlError(Exception):
    """A problem with the user's input or environment, explained in one line.

    Library code raises it with a message that names what was expected, what was
    received and how to fix it; the CLI prints the message and exits non-zero.
    """


class DataError(KerasdlError):
    """A data set is missing, empty, unreadable or of the wrong shape."""


class ConfigError(KerasdlError, ValueError):
    """A configuration value is out of range or of the wrong type."""


class TrainingError(KerasdlError):
    """Training cannot go on (a NaN loss, an unusable strategy)."""
