"""Data sources and tf.data pipelines shared by the apps."""
