"""`kerasdl compare`: variants trained side by side, their table and curves, resume
after an interruption, diverging variants, and bad specs as one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kerasdl import api
from kerasdl.apps.vision.config import VisionConfig
from kerasdl.cli import cli
from kerasdl.comparison import compare, parse_vary, plan_variants
from kerasdl.errors import ConfigError
from kerasdl.runs import Run
from test_cli import assert_one_line_error


def _table_rows(text: str) -> list[list[str]]:
    lines = [l for l in text.splitlines() if l.startswith("| ") and not l.startswith("|---")]
    return [[c.strip() for c in l.strip("|").split("|")] for l in lines[1:]]


def test_two_way_comparison_writes_table_curves_and_ordinary_runs(
    tmp_path: Path, colour_folder: Path
) -> None:
    result = CliRunner().invoke(cli, [
        "compare", "vision", "--dataset", str(colour_folder), "--preset", "tiny", "--epochs", "2",
        "--lr", "0.01", "--vary", "model=mlp,lenet", "--name", "study",
        "--runs-dir", str(tmp_path / "runs"), "--compare-dir", str(tmp_path / "compare"),
    ])
    assert result.exit_code == 0, result.output
    header = next(l for l in result.output.splitlines() if l.startswith("| model"))
    assert "test accuracy" in header and "parameters" in header and "int8 TFLite" in header
    rows = _table_rows(result.output)
    assert [r[0] for r in rows] == ["mlp", "lenet"]

    folder = tmp_path / "compare" / "vision" / "study"
    manifest = json.loads((folder / "comparison.json").read_text())
    for row, variant in zip(rows, manifest["variants"]):
        assert variant["status"] == "completed"
        # Three separable colours: both variants well above chance (33 %).
        assert variant["metric"] > 0.6, variant
        assert row[1].strip("*") == f"{100 * variant['metric']:.2f} %"
        run = Run.open(tmp_path / "runs" / "vision" / variant["run"])
        assert run.meta["status"] == "completed" and run.meta["epochs_completed"] == 2
        assert variant["seconds"] == run.meta["training_seconds"] > 0
        model = get_model(run)
        assert variant["parameters"] == model.count_params() and row[3] == f"{model.count_params():,}"
        int8 = Path(variant["int8_file"])
        assert int8.stat().st_size == variant["int8_bytes"] and row[6] == f"{variant['int8_bytes'] / 1024:.1f} KB"
    # Same data, seed and epochs; only the model differs.
    configs = [api.run_config(Run(tmp_path / "runs" / "vision" / v["run"])).to_dict() for v in manifest["variants"]]
    assert {k for k in configs[0] if configs[0][k] != configs[1][k]} == {"model"}
    # The larger network has more parameters: the table tells them apart.
    assert manifest["variants"][0]["parameters"] != manifest["variants"][1]["parameters"]
    assert (folder / "comparison.md").read_text().count("| mlp |") == 1

    with Image.open(folder / "curves.png") as image:
        assert image.format == "PNG" and image.width > 2 * image.height
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32)
    # Both variants' colours are drawn (matplotlib's first two: blue, orange).
    for colour in ((31, 119, 180), (255, 127, 14)):
        assert (np.abs(pixels - colour).sum(axis=-1) < 30).sum() > 50, colour

    # A variant's run is an ordinary run: evaluate and export take it.
    run_path = tmp_path / "runs" / "vision" / manifest["variants"][1]["run"]
    exported = CliRunner().invoke(cli, ["export", str(run_path), "--format", "tflite", "--quantize",
                                        "float32", "--out", str(tmp_path / "saved")])
    assert exported.exit_code == 0, exported.output


def get_model(run: Run):
    from kerasdl.registry import get_app

    from kerasdl.training.saving import load_app_model

    return load_app_model(get_app("vision"), run.model_path())


def test_interrupted_comparison_resumes_without_retraining_finished_runs(
    tmp_path: Path, colour_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = VisionConfig(dataset=str(colour_folder), epochs=1, batch_size=32, width=4, model="mlp")
    varied = [("dropout", ["0", "0.2", "0.4"])]
    dirs = {"compare_dir": tmp_path / "compare", "runs_dir": tmp_path / "runs"}
    from kerasdl.training import workflow

    real_train, trained = workflow.train_run, []

    def interrupted(app_name, config=None, **kwargs):
        if len(trained) == 1:
            raise KeyboardInterrupt
        trained.append(kwargs["name"])
        return real_train(app_name, config, **kwargs)

    monkeypatch.setattr(workflow, "train_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compare("vision", config, varied, name="drop", int8=False, **dirs)
    manifest = json.loads((tmp_path / "compare" / "vision" / "drop" / "comparison.json").read_text())
    assert [v["status"] for v in manifest["variants"]] == ["completed", "pending", "pending"]
    first = tmp_path / "runs" / "vision" / manifest["variants"][0]["run"]
    stamp = (first / "run.json").stat().st_mtime_ns

    def counting(app_name, config=None, **kwargs):
        trained.append(kwargs["name"])
        return real_train(app_name, config, **kwargs)

    monkeypatch.setattr(workflow, "train_run", counting)
    result = compare("vision", None, name="drop", resume=True, **dirs)
    assert trained == ["drop--dropout-0", "drop--dropout-0p2", "drop--dropout-0p4"]
    assert (first / "run.json").stat().st_mtime_ns == stamp
    assert [r["status"] for r in result.rows] == ["completed"] * 3
    assert [r["label"] for r in result.rows] == ["0", "0.2", "0.4"]
    assert len(_table_rows(result.table())) == 3 and result.curves_path.is_file()
    # A variant whose run was killed part-way continues it rather than starting over.
    manifest = json.loads((result.folder / "comparison.json").read_text())
    manifest["variants"][2]["status"] = "pending"
    (result.folder / "comparison.json").write_text(json.dumps(manifest))
    Run(tmp_path / "runs" / "vision" / "drop--dropout-0p4").write_meta(status="running")
    calls = []
    monkeypatch.setattr(workflow, "train_run", lambda app_name, config=None, **kw: calls.append(kw))
    compare("vision", None, name="drop", resume=True, **dirs)
    assert calls == [{"runs_dir": str(tmp_path / "runs"), "name": "drop--dropout-0p4", "resume": True,
                      "verbose": 0}]


def test_diverging_variant_is_reported_not_raised(tmp_path: Path, colour_folder: Path) -> None:
    config = VisionConfig(dataset=str(colour_folder), epochs=2, batch_size=32, width=4, model="mlp",
                          optimizer="sgd", schedule="constant")
    result = compare("vision", config, [("learning_rate", ["0.01", "1e30"])], name="lr", int8=False,
                     compare_dir=tmp_path / "compare", runs_dir=tmp_path / "runs")
    ok, diverged = result.rows
    assert ok["status"] == "completed" and diverged["status"] == "failed"
    assert "NaN" in diverged["error"] or "infinite" in diverged["error"]
    table = result.table()
    assert "| 1e30 | failed (see below) |" in table and "- 1e30:" in table


def test_vary_specs_and_variant_plans() -> None:
    assert parse_vary(VisionConfig, "augment=on,off") == ("augment", ["on", "off"])
    assert parse_vary(VisionConfig, "label-smoothing=0;0.1") == ("label_smoothing", ["0", "0.1"])
    plans = plan_variants(VisionConfig(), [("model", ["mlp", "cnn"]), ("dropout", ["0", "0.5"])], "s")
    assert [v.run_name for v, _ in plans] == ["s--model-mlp--dropout-0", "s--model-mlp--dropout-0p5",
                                              "s--model-cnn--dropout-0", "s--model-cnn--dropout-0p5"]
    assert [(c.model, c.dropout) for _, c in plans] == [("mlp", 0.0), ("mlp", 0.5), ("cnn", 0.0), ("cnn", 0.5)]
    assert plans[1][0].label == "mlp, 0.5"
    for spec, message in [
        ("model", "FIELD=VALUE1,VALUE2"), ("colour=red,blue", "Unknown config key 'colour'"),
        ("epochs=1,two", "must be of type int"), ("model=cnn,,mlp", "empty value"),
        ("dropout=0.1,0.10", "repeats"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_vary(VisionConfig, spec)
    with pytest.raises(ConfigError, match="at least two variants"):
        plan_variants(VisionConfig(), [("model", ["cnn"])], "s")
    with pytest.raises(ConfigError, match="more than once"):
        plan_variants(VisionConfig(), [("model", ["cnn"]), ("model", ["mlp"])], "s")
    with pytest.raises(ConfigError, match=r"Variant dropout=1.5: `dropout` must be in"):
        plan_variants(VisionConfig(), [("dropout", ["0", "1.5"])], "s")


def test_bad_comparisons_are_one_line_errors(tmp_path: Path, colour_folder: Path) -> None:
    base = ["--runs-dir", str(tmp_path / "runs"), "--compare-dir", str(tmp_path / "compare")]

    def run(*args: str):
        return CliRunner().invoke(cli, ["compare", *args, *base])

    assert_one_line_error(run("vision", "--vary", "model=cnn,transformer"), "--model must be one of")
    assert_one_line_error(run("vision", "--vary", "size=1,2"), "Unknown config key 'size'")
    assert_one_line_error(run("vision", "--model", "cnn", "--vary", "model=cnn,mlp"),
                          "--model is both set and varied")
    assert_one_line_error(run("vision", "--set", "dropout=0.1", "--vary", "dropout=0,0.5"),
                          "--dropout is both set and varied")
    assert_one_line_error(run("vision", "--vary", "dropout=0"), "at least two variants")
    assert_one_line_error(run("vision", "--resume"), "No comparison of the vision app to resume")
    assert_one_line_error(run("vision", "--resume", "--vary", "dropout=0,0.1"), "give no config options")
    assert_one_line_error(run("vision", "--name", "a/b", "--vary", "dropout=0,0.1"), "Run name 'a/b'")
    (tmp_path / "compare" / "vision" / "taken").mkdir(parents=True)
    assert_one_line_error(run("vision", "--name", "taken", "--vary", "dropout=0,0.1"),
                          "already exists")
    assert_one_line_error(run("vision", "--name", "taken", "--resume"), "not a kerasdl comparison")
    missing = run("speech", "--dataset", str(tmp_path / "nowhere"), "--vary", "width=4,8", "--name", "m")
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    result = CliRunner().invoke(cli, ["compare", "vision"])
    assert result.exit_code == 2 and "--vary" in result.output
    # Nothing was trained or left behind by the refused commands.
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("run.json"))


DOCS = Path(__file__).resolve().parents[1]
GUIDES = [DOCS / "README.md", DOCS / "README.zh-CN.md", DOCS / "docs" / "concepts.md",
          DOCS / "docs" / "zh" / "concepts.md", *sorted((DOCS / "apps").glob("*/README*.md"))]


def _compare_commands(path: Path) -> list[str]:
    import re

    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))  # join continued lines
    return re.findall(r"kerasdl compare [^`\n#]+", text)


def test_every_documented_comparison_is_a_valid_plan() -> None:
    """The guides' `kerasdl compare` commands name real fields and valid values, so a
    learner who copies one gets a comparison, not an error."""
    import shlex

    from kerasdl.config import resolve_config
    from kerasdl.registry import get_app

    commands = [c for path in GUIDES for c in _compare_commands(path)]
    assert len(commands) >= 20
    for command in commands:
        words = shlex.split(command)
        if "--resume" in words or words[2] == "APP":
            continue
        app = get_app(words[2])
        specs = [words[i + 1] for i, w in enumerate(words) if w == "--vary"]
        assert specs, command
        varied = [parse_vary(app.config_class, spec) for spec in specs]
        config = resolve_config(app.config_class, preset="tiny" if "tiny" in app.config_class.presets else None)
        for _, variant_config in plan_variants(config, varied, "doc"):
            app.model_name(variant_config)
    # The Chinese guide shows the same experiments as the English one.
    english, chinese = (sorted(_compare_commands(DOCS / "docs" / p)) for p in ("concepts.md", "zh/concepts.md"))
    assert english == chinese


def test_concept_map_covers_the_listed_concepts() -> None:
    text = (DOCS / "docs" / "concepts.md").read_text(encoding="utf-8").lower()
    for concept in ("neuron", "forward pass", "backward pass", "loss", "optimizers", "schedules",
                    "dropout", "weight decay", "label smoothing", "augmentation", "accuracy", "fid",
                    "quantization", "pruning", "clustering", "serving", "edge inference"):
        assert concept in text, concept
    chinese = (DOCS / "docs" / "zh" / "concepts.md").read_text(encoding="utf-8")
    for concept in ("神经元", "前向传播", "反向传播", "损失函数", "优化器", "学习率调度", "正则化",
                    "量化", "剪枝", "部署"):
        assert concept in chinese, concept
    assert text.count("\n| **") == chinese.count("\n| **")


def test_seeds_repeat_every_variant_and_the_table_shows_mean_and_std(tmp_path: Path, colour_folder: Path) -> None:
    result = CliRunner().invoke(cli, [
        "compare", "vision", "--dataset", str(colour_folder), "--preset", "tiny", "--epochs", "1",
        "--vary", "model=mlp,lenet", "--seeds", "2", "--no-int8", "--name", "noise",
        "--runs-dir", str(tmp_path / "runs"), "--compare-dir", str(tmp_path / "compare"),
    ])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "compare" / "vision" / "noise" / "comparison.json").read_text())
    assert manifest["seeds"] == 2
    assert [v["run"] for v in manifest["variants"]] == [
        "noise--model-mlp--seed-42", "noise--model-mlp--seed-43", "noise--model-lenet--seed-42",
        "noise--model-lenet--seed-43"]
    seeds = {v["run"]: api.run_config(Run(tmp_path / "runs" / "vision" / v["run"])).seed for v in manifest["variants"]}
    assert sorted(seeds.values()) == [42, 42, 43, 43]
    header = next(l for l in result.output.splitlines() if l.startswith("| model"))
    assert "mean ± std, 2 seeds" in header and "vs best" in header
    rows = {r[0]: r for r in _table_rows(result.output)}
    assert set(rows) == {"mlp", "lenet"}
    for label, row in rows.items():
        values = [v["metric"] for v in manifest["variants"] if v["values"]["model"] == label]
        assert row[1] == f"{100 * np.mean(values):.2f} ± {100 * np.std(values, ddof=1):.2f} %"
    assert sorted(r[3] for r in rows.values())[0] == "best"


def test_noise_verdicts_and_seed_plans() -> None:
    from kerasdl.comparison.compare import _noise_verdict

    best = np.array([0.805, 0.80, 0.81])
    assert _noise_verdict(np.array([0.80, 0.81, 0.79]), best) == "within noise"
    assert _noise_verdict(np.array([0.70, 0.71, 0.69]), best) == "worse"
    config = VisionConfig(seed=7)
    planned = plan_variants(config, [("model", ["mlp", "cnn"])], "s", seeds=3)
    assert [(v.label, c.seed) for v, c in planned] == [("mlp", 7), ("mlp", 8), ("mlp", 9),
                                                        ("cnn", 7), ("cnn", 8), ("cnn", 9)]
    with pytest.raises(ConfigError, match="seed"):
        plan_variants(config, [("seed", ["1", "2"])], "s", seeds=2)


def test_seeded_curves_draw_the_mean_and_a_band_of_one_std(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kerasdl.evaluation import plots

    drawn = {}

    def keep(plt: object, fig: object, path: str | Path) -> Path:
        drawn["fig"] = fig
        return Path(path)

    monkeypatch.setattr(plots, "save", keep)
    seeds = [[{"epoch": 1, "val_loss": 1.0}, {"epoch": 2, "val_loss": 0.5}],
             [{"epoch": 1, "val_loss": 3.0}, {"epoch": 2, "val_loss": 0.7}]]
    one = [{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}]
    plots.plot_overlaid_curves({"a": seeds, "b": one}, ["val_loss"], tmp_path / "c.png")
    ax = drawn["fig"].axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines == {"a (mean of 2)": [2.0, 0.6], "b": [2.0, 1.0]}
    (band,) = ax.collections  # one band: the seeded label's
    top = band.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(2.0 + np.std([1.0, 3.0], ddof=1))
