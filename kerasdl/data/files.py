"""Reading users' text files (CSV tables, reviews), gzipped or not."""

from __future__ import annotations

import gzip
from pathlib import Path

from kerasdl.errors import DataError


def read_text_file(path: str | Path) -> str:
    """A UTF-8 file's text (a leading byte-order mark dropped), gunzipped first when
    its name ends in .gz.

    Raises:
        DataError: a missing or unreadable file, bad gzip data, or text that is not UTF-8.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"No such file: {path}") from None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"Cannot read {path}: {e}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text (byte {e.start}).") from None
