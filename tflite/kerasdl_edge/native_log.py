"""Native code's start-up chatter filtered out of the process's standard error.

TensorFlow and LiteRT write from C++ straight to file descriptor 2 (CUDA probing on a
machine without a GPU, "Created TensorFlow Lite XNNPACK delegate"), past Python's
`sys.stderr` and past any environment variable. `filtered_stderr` captures fd 2 around
a block and writes back every line but the noise: errors and warnings still show.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator


@contextlib.contextmanager
def filtered_stderr(noise: "re.Pattern[str]", *, all_on_error: bool = False) -> Iterator[None]:
    """Runs the block with fd 2 captured, then writes back the lines that `noise` does
    not match; with `all_on_error`, all of them when the block raised (a failed import's
    output explains it)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (an embedding host): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if (failed and all_on_error) or not noise.match(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
