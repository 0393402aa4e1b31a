"""Reading a user's file with a one-line error."""

from __future__ import annotations

from pathlib import Path


def read_bytes(path: str | Path, kind: str, error: type[Exception] = ValueError) -> bytes:
    """The file's bytes; `error` naming a missing or unreadable `kind` file otherwise."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{kind} file not found: {path}") from None
    except OSError as e:
        raise error(f"Cannot read {path}: {e.strerror}") from None
