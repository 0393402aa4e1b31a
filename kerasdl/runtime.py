"""Starting TensorFlow quietly, and TensorFlow's own errors in one line.

Importing this module imports nothing heavy: TensorFlow is imported inside
`start_tensorflow`, so a command that needs no model (`kerasdl --help`, `kerasdl
apps`) answers at once.

Example:
>>> from kerasdl.runtime import NATIVE_NOISE
>>> bool(NATIVE_NOISE.match("I0000 00:00:1795956058.701502    3132 cudart_stub.cc:31] Could not find cuda drivers"))
True
>>> bool(NATIVE_NOISE.match("Traceback (most recent call last):"))
False
"""

from __future__ import annotations

import os
import re
import sys

__all__ = ["NATIVE_NOISE", "start_tensorflow", "tensorflow_op_error"]

# What TensorFlow's C++ side prints while it loads and looks for a GPU, before Python
# logging exists (so TF_CPP_MIN_LOG_LEVEL cannot silence all of it): oneDNN and CPU
# notes, "Could not find cuda drivers", "E0000 ... failed call to cuInit" on every
# machine without a GPU. A user reads "E ... CUDA error" as a failure.
NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard|cuda_platform|cuda_executor"
    r"|cuda_diagnostics|cuda_dnn|cuda_fft|cuda_blas|computation_placer)\.cc:\d+\]"
    r"|To enable the following instructions:)")


def start_tensorflow(*, verbose: bool = False) -> None:
    """Imports TensorFlow and lets it probe for devices with the process's standard
    error captured, then passes on what is not start-up noise (`NATIVE_NOISE`);
    everything with `verbose`. Does nothing once TensorFlow is imported.

    TF_CPP_MIN_LOG_LEVEL defaults to 2 (warnings and errors only) unless already set.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    if verbose:
        import tensorflow  # noqa: F401
        return
    from kerasdl_edge.native_log import filtered_stderr

    # A failed import shows all it printed; otherwise only what is not noise.
    with filtered_stderr(NATIVE_NOISE, all_on_error=True):
        import tensorflow as tf

        tf.config.list_physical_devices()  # CUDA is probed (and cuInit fails) here


def tensorflow_op_error(error: BaseException) -> str | None:
    """One line for a TensorFlow op error (a tf.data pipeline that met a bad record, an
    op that cannot run on the data), or None for any other exception.

    TensorFlow is not imported here: when it is not loaded, no error can be its.
    """
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(error, tf.errors.OpError):
        return None
    lines = (error.message or str(error)).strip().splitlines()
    return f"TensorFlow could not process the data: {lines[0] if lines else type(error).__name__}"
