"""The edge runtime's one error type."""


class EdgeError(ValueError):
    """An input or a model the runtime cannot use; the message says why, in one line."""
