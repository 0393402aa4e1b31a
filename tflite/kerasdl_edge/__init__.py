"""kerasdl's edge runtime: numpy and ai-edge-litert only, never TensorFlow.

It ships twice from one source: inside the `kerasdl` distribution (the export checks
use it) and alone from `tflite/` for devices (`pip install ./tflite`).
"""

from kerasdl_edge.metadata import read_metadata, write_metadata
from kerasdl_edge.model import EdgeModel
from kerasdl_edge.tasks import EdgeError, Predictor

__all__ = ["EdgeError", "EdgeModel", "Predictor", "read_metadata", "write_metadata"]
__version__ = "0.1.0"
