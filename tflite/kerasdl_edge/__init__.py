"""kerasdl's edge runtime: numpy and ai-edge-litert only, never TensorFlow.

It ships twice from one source: inside the `kerasdl` distribution (its prediction I/O,
the codecs, is kerasdl's too) and alone from `tflite/` for devices (`pip install ./tflite`).
"""

from kerasdl_edge.errors import EdgeError
from kerasdl_edge.metadata import read_metadata, write_metadata
from kerasdl_edge.model import EdgeModel
from kerasdl_edge.predictor import Predictor

__all__ = ["EdgeError", "EdgeModel", "Predictor", "read_metadata", "write_metadata"]
__version__ = "0.1.0"
