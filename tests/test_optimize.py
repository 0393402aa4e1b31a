"""tfmot optimization through tf_keras twins: pruning, clustering, QAT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kerasdl.errors import ConfigError


def test_twins_of_every_model_match_exactly() -> None:
    import keras

    from kerasdl.apps.vision.app import VisionApp
    from kerasdl.apps.vision.config import VisionConfig
    from kerasdl.optimization.twin import build_twin

    app = VisionApp()
    info = {"image_shape": [20, 20, 3], "class_names": ["a", "b", "c"]}
    sample = np.random.default_rng(0).integers(0, 256, (4, 20, 20, 3)).astype(np.uint8)
    for name in app.models:
        config = VisionConfig(model=name, width=4)
        keras.utils.set_random_seed(1)
        model = app.build_model(config, info)
        twin = build_twin(app, config, info, model, sample)
        assert type(twin).__module__.startswith("tf_keras")
        for a, b in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(model(sample), twin(sample, training=False), atol=1e-6)


def tflite_zero_fraction(path: Path, min_size: int = 64) -> list[float]:
    """Zero fractions of the float32 weight buffers of a .tflite file."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    fractions = []
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        if tensor.Type() != schema.TensorType.FLOAT32:
            continue
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, np.ndarray) and data.size >= 4 * min_size:
            values = data.view(np.float32)
            fractions.append(float(np.mean(values == 0)))
    return fractions


def test_pruning_survives_stripping_and_conversion(trained_run: Path, tmp_path: Path) -> None:
    from kerasdl.export.exporter import export_run
    from kerasdl.optimization.optimize import OptimizeConfig, optimize_run

    report = optimize_run(trained_run, OptimizeConfig(prune=0.5, prune_schedule="constant", epochs=1),
                          runs_dir=tmp_path, name="pruned", verbose=0)
    # Kernels under MIN_PRUNED_WEIGHTS (the first convolution, the logits) stay dense.
    assert report.stages[0]["wrapped"] == ["head_hidden"]
    assert report.stages[0]["left"] == ["block1_conv (Conv2D)", "head_logits (Dense)"]
    assert all(v >= 0.49 for v in report.sparsity.values()), report.sparsity
    assert report.gzip_bytes["optimized"] < 0.85 * report.gzip_bytes["base"]
    meta = json.loads((report.run.path / "run.json").read_text())
    assert meta["optimization"]["base_run"] == str(trained_run) and meta["status"] == "completed"

    export = export_run(report.run.path, formats=("tflite",), quantizations=("float32",),
                        out_dir=tmp_path / "out", check=False)
    fractions = tflite_zero_fraction(export.tflite["float32"])
    assert sum(f >= 0.45 for f in fractions) == 1, fractions  # head_hidden's kernel


def test_qat_int8_agrees_with_its_keras_model(trained_run: Path, tmp_path: Path, colour_folder: Path) -> None:

    from kerasdl_edge.codecs import codec_for
    from kerasdl.export.exporter import export_run
    from kerasdl.optimization.optimize import QAT_MODEL, OptimizeConfig, optimize_run
    from kerasdl.training.saving import load_quantization_aware_model
    from kerasdl_edge import EdgeModel

    report = optimize_run(trained_run, OptimizeConfig(qat=True, epochs=1), runs_dir=tmp_path,
                          name="qat", verbose=0)
    assert report.stages[-1]["technique"] == "qat"
    assert "scale_pixels (Rescaling, stays float)" in report.stages[-1]["left"]
    export = export_run(report.run.path, formats=("tflite",), quantizations=("int8",),
                        out_dir=tmp_path / "out")
    int8 = EdgeModel(export.tflite["int8"])
    assert int8.metadata["quantization_aware"] is True
    qat = load_quantization_aware_model(report.run.path / "checkpoints" / QAT_MODEL)
    images = codec_for("image_classification", {"image_shape": [16, 16, 3], "class_names": ["a", "b"]}).read(sorted(colour_folder.glob("*/01[0-9].png")))
    expected = qat(images, training=False).numpy()
    assert np.abs(int8(images) - expected).max() < 0.1
    assert (int8(images).argmax(1) == expected.argmax(1)).mean() >= 0.95
    row = export.rows[0]
    assert row["metric"] >= row["keras_metric"] - 0.05


def test_clustering_limits_distinct_values(trained_run: Path, tmp_path: Path) -> None:
    from kerasdl.optimization.optimize import OptimizeConfig, optimize_run

    report = optimize_run(trained_run, OptimizeConfig(cluster=4, epochs=1), runs_dir=tmp_path,
                          name="clustered", verbose=0)
    assert report.unique_values and all(v <= 4 for v in report.unique_values.values())


@pytest.mark.parametrize("options, message", [
    ({}, "Nothing to do"),
    ({"prune": 1.5}, "`prune` must be a sparsity in (0, 1)"),
    ({"prune": 0.5, "cluster": 8}, "Choose one of `prune` and `cluster`"),
    ({"cluster": 1}, "`cluster` must be at least 2"),
    ({"qat": True, "epochs": 0}, "`epochs` must be a positive integer"),
])
def test_bad_options(options: dict, message: str) -> None:
    from kerasdl.optimization.optimize import OptimizeConfig

    with pytest.raises(ConfigError) as err:
        OptimizeConfig(**options)
    assert str(err.value).startswith(message)
