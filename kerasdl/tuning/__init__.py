"""Hyperparameter search (Keras Tuner) for any app."""
