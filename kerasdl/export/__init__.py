"""Export: SavedModel for TF Serving, TFLite in four precisions, self-checks and
latency benchmarks. Generic: every app plugs in through its `App` hooks."""
