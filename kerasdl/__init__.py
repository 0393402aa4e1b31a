"""kerasdl: from data to a deployed Keras model.

The package imports nothing heavy at start-up: TensorFlow and Keras are imported inside
the functions that need them, so that `kerasdl --help` stays fast.
"""

__version__ = "0.1.0"
