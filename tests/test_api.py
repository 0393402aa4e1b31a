"""Library workflows the CLI prints the results of, called directly: `api.explain`
and `api.lr_find`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kerasdl import api
from kerasdl.errors import ConfigError, DataError, KerasdlError


def test_explain_writes_and_returns_one_overlay_and_activation_map_per_image(
        trained_run: Path, tmp_path: Path, colour_folder: Path) -> None:
    from kerasdl.evaluation.saliency import Explanation

    images = sorted(colour_folder.rglob("*.png"))[:2]
    written = api.explain(trained_run, images, out_dir=tmp_path / "out")
    assert isinstance(written, Explanation)
    stems = [p.stem for p in images]
    assert [p.name for p in written.grad_cam] == [f"{s}-gradcam.png" for s in stems]
    assert [p.name for p in written.activations] == [f"{s}-activations.png" for s in stems]
    assert written.filters == tmp_path / "out" / "filters.png"
    assert written.paths == [*written.grad_cam, *written.activations, written.filters]
    assert all(p.parent == tmp_path / "out" and p.stat().st_size > 1000 for p in written.paths)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written.paths)


def test_explain_writes_into_the_run_by_default(trained_run: Path, tmp_path: Path, colour_folder: Path) -> None:
    run = shutil.copytree(trained_run, tmp_path / "run")  # the shared run stays as it was
    written = api.explain(run, [str(next(colour_folder.rglob("*.png")))])
    assert written.filters == run / "explain" / "filters.png" and written.filters.is_file()
    assert all(p.parent == run / "explain" for p in written.paths)


def test_explain_refuses_bad_input_with_one_line(trained_run: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Image file not found: no-such.png"):
        api.explain(trained_run, ["no-such.png"], out_dir=tmp_path)
    with pytest.raises(KerasdlError, match="Nothing to explain"):
        api.explain(trained_run, [], out_dir=tmp_path)
    with pytest.raises(KerasdlError, match="not a kerasdl run directory"):
        api.explain(tmp_path, ["a.png"])
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_lr_find_writes_the_record_and_plot_and_returns_them(tmp_path: Path, colour_folder: Path) -> None:
    from kerasdl.apps.vision.config import VisionConfig

    config = VisionConfig(dataset=str(colour_folder), model="mlp", width=4, batch_size=8)
    result = api.lr_find("vision", config, start=1e-4, end=1.0, steps=20, out_dir=tmp_path)
    assert 3 <= len(result.rates) <= 20 and len(result.losses) == len(result.rates)
    assert np.allclose(np.array(result.rates[1:]) / result.rates[:-1], (1.0 / 1e-4) ** (1 / 19))
    assert result.rates[0] == pytest.approx(1e-4)
    assert set(result.suggestions) == {"steepest", "lowest_loss"}
    assert result.plot == tmp_path / "vision" / "lr_find.png" and result.plot.stat().st_size > 10_000
    record = json.loads((tmp_path / "vision" / api.LR_FIND_JSON).read_text())
    assert record == {"rates": result.rates, "losses": result.losses, "suggestions": result.suggestions}


def test_lr_find_refuses_what_it_cannot_test(tmp_path: Path) -> None:
    from kerasdl.apps.vision.config import VisionConfig

    with pytest.raises(ConfigError, match="two players"):
        api.lr_find("dcgan", steps=20, out_dir=tmp_path)
    with pytest.raises(KerasdlError, match="The sentiment app needs a SentimentConfig; received a VisionConfig"):
        api.lr_find("sentiment", VisionConfig(), out_dir=tmp_path)
    with pytest.raises(ConfigError, match="0 < start < end"):
        api.lr_find("vision", VisionConfig(), start=1.0, end=0.1, out_dir=tmp_path)
    assert not list(tmp_path.rglob("lr_find.json"))
