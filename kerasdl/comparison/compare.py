"""Learning by comparison: the same data, seed and epochs with one or more config
fields varied, one ordinary run per variant, then one table and one plot of the curves.

A comparison lives in `compare_dir/<app>/<name>/`: `base.toml` (the config every
variant starts from), `comparison.json` (what varies, each variant's run and results),
`comparison.md` (the table), `curves.png` (the training curves overlaid) and
`exports/` (each variant's int8 TFLite file, whose size the table shows). Each
variant trains as the ordinary run `runs_dir/<app>/<name>--<variant>`, which
`evaluate`, `predict`, `export` and `optimize` accept. A comparison stopped part-way
resumes: finished variants are kept, an interrupted run continues from its last epoch.

With `seeds` > 1 every variant trains once per seed (`...--seed-S`), and the table
shows the mean and standard deviation over the seeds: a difference smaller than twice
its standard error is marked as within the noise, so a 0.3-point gap is not read as a
finding.

Example:
>>> from kerasdl.comparison import compare
>>> from kerasdl.apps.vision.config import VisionConfig
>>> result = compare("vision", VisionConfig(epochs=2), [("model", ["mlp", "cnn"])])  # doctest: +SKIP
>>> print(result.table())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from kerasdl import io as kio
from kerasdl.config import TrainConfig, coerce_value, config_from_dict, read_toml, to_toml
from kerasdl.errors import ConfigError, KerasdlError, TrainingError
from kerasdl.registry import get_app
from kerasdl.runs import Run, folder_to_resume, new_folder

logger = logging.getLogger(__name__)

MANIFEST = "comparison.json"
BASE_CONFIG = "base.toml"
TABLE = "comparison.md"
CURVES = "curves.png"
MAX_VARIANTS = 64


@dataclass(frozen=True)
class Variant:
    """One configuration of a comparison: the varied fields' values and its run
    (with several seeds, one Variant per seed, the same label)."""

    values: dict[str, str]
    run_name: str
    seed: int | None = None

    @property
    def label(self) -> str:
        return ", ".join(self.values.values())


@dataclass
class Comparison:
    """A comparison's folder and results, one row per variant in the order given."""

    app: str
    folder: Path
    runs_dir: Path
    fields: list[str]
    metric: str
    monitor: str
    direction: str  # which way the test metric is better: "max" or "min"
    seeds: int = 1
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def table_path(self) -> Path:
        return self.folder / TABLE

    @property
    def curves_path(self) -> Path:
        return self.folder / CURVES

    def table(self) -> str:
        """The results as a Markdown table (readable in a terminal too); the best
        value of the test metric is in bold, failures are explained under it."""
        if self.seeds > 1:
            return format_seeded_table(self.rows, self.fields, self.metric, self.monitor, self.direction)
        return format_table(self.rows, self.fields, self.metric, self.monitor, self.direction)


def parse_vary(config_class: type[TrainConfig], spec: str) -> tuple[str, list[str]]:
    """Parses `FIELD=V1,V2,...` (or `FIELD=V1;V2` when values hold commas).

    Raises:
        ConfigError: for a malformed spec, an unknown field, a value of the wrong
            type, an empty or repeated value.

    Example:
    >>> from kerasdl.config import TrainConfig
    >>> parse_vary(TrainConfig, "optimizer=sgd,adam")
    ('optimizer', ['sgd', 'adam'])
    """
    name, sep, text = spec.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name or not text.strip():
        raise ConfigError(f"`vary` takes FIELD=VALUE1,VALUE2 (e.g. model=cnn,resnet). Received: {spec!r}")
    separator = ";" if ";" in text else ","
    values = [v.strip() for v in text.split(separator)]
    if any(not v for v in values):
        raise ConfigError(f"`vary` {name}: empty value in {text!r}.")
    seen: dict[Any, str] = {}
    for value in values:
        coerced = coerce_value(config_class, name, value)
        if coerced in seen:
            raise ConfigError(f"`vary` {name}: {value!r} repeats {seen[coerced]!r}.")
        seen[coerced] = value
    return name, values


def plan_variants(
    config: TrainConfig, varied: Sequence[tuple[str, Sequence[str]]], name: str, seeds: int = 1,
) -> list[tuple[Variant, TrainConfig]]:
    """Every combination of the varied values, each with its validated config; with
    `seeds` > 1, each combination once per seed (config.seed, config.seed + 1, ...).

    Raises:
        ConfigError: if a field is varied twice, fewer than two variants result, or a
            combination is not a valid config.
    """
    names = [n for n, _ in varied]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"`vary` {repeated[0]} is given more than once: list all its values in one.")
    combinations = list(itertools.product(*(values for _, values in varied)))
    if len(combinations) < 2:
        raise ConfigError("A comparison needs at least two variants, e.g. `vary=optimizer=sgd,adam`.")
    if seeds < 1:
        raise ConfigError(f"`seeds` must be at least 1. Received: {seeds}")
    if seeds > 1 and "seed" in names:
        raise ConfigError("`seed` is both varied and repeated by `seeds`: drop one of the two.")
    if len(combinations) * seeds > MAX_VARIANTS:
        raise ConfigError(f"{len(combinations) * seeds} runs is too many to compare (at most {MAX_VARIANTS}).")
    cls = type(config)
    planned = []
    for combination in combinations:
        values = dict(zip(names, combination))
        coerced = {k: coerce_value(cls, k, v) for k, v in values.items()}
        try:
            variant_config = dataclasses.replace(config, **coerced)
        except ConfigError as e:
            raise ConfigError(f"Variant {', '.join(f'{k}={v}' for k, v in values.items())}: {e}") from None
        slug = "--".join(f"{k}-{_slug(v)}" for k, v in values.items())
        if seeds == 1:
            planned.append((Variant(values, f"{name}--{slug}"), variant_config))
            continue
        for offset in range(seeds):
            seed = config.seed + offset
            planned.append((Variant(values, f"{name}--{slug}--seed-{seed}", seed),
                            dataclasses.replace(variant_config, seed=seed)))
    return planned


def _slug(value: str) -> str:
    # Run and export names allow letters, digits, '_' and '-' only.
    return re.sub(r"[^A-Za-z0-9_-]", "_", value.replace(".", "p"))


def compare(
    app_name: str,
    config: TrainConfig | None,
    varied: Sequence[tuple[str, Sequence[str]]] = (),
    *,
    compare_dir: str | Path = "runs/compare",
    runs_dir: str | Path = "runs",
    name: str | None = None,
    resume: bool = False,
    int8: bool = True,
    verbose: Any = 0,
    seeds: int = 1,
) -> Comparison:
    """Trains one run per variant and writes the table and the curves.

    Args:
        app_name: a registered app.
        config: the config every variant starts from (the app's defaults when None);
            ignored with `resume`, which uses the comparison's saved one.
        varied: (field, values as text) pairs, e.g. [("model", ["cnn", "resnet"])];
            several fields give every combination. Ignored with `resume`.
        compare_dir: where comparisons are kept.
        runs_dir: where the variants' runs go (with `resume`, where they went).
        name: the comparison's name (a timestamp when None); with `resume` and no
            name, the newest comparison of the app.
        resume: continue a comparison: finished variants are kept, an interrupted
            run continues from its last epoch, the others are trained.
        int8: export each variant to an int8 TFLite file and report its size.
        verbose: Keras' progress display for each run.
        seeds: train each variant with this many seeds and report mean and standard
            deviation (ignored with `resume`, which keeps the comparison's).

    Raises:
        KerasdlError: for bad input; the message says what to fix. A variant whose
            training diverges is reported in the table, not raised.
    """
    app = get_app(app_name)
    compare_root = Path(compare_dir) / app.name
    if resume:
        folder = folder_to_resume(compare_root, name, marker=MANIFEST, what=f"comparison of the {app.name} app")
        manifest = kio.read_json(folder / MANIFEST)
        config = config_from_dict(app.config_class, read_toml(folder / BASE_CONFIG))
        varied = [(f, list(v)) for f, v in manifest["varied"]]
        int8 = manifest.get("int8", int8)
        runs_dir = manifest.get("runs_dir", runs_dir)
        seeds = int(manifest.get("seeds", 1))
        planned = plan_variants(config, varied, folder.name, seeds)
    else:
        config = config if config is not None else app.config_class()
        folder = new_folder(compare_root, name, what="comparison")
        planned = plan_variants(config, varied, folder.name, seeds)
        for _, variant_config in planned:
            app.model_name(variant_config)  # an unknown model fails before any training
        taken = [v.run_name for v, _ in planned if (Path(runs_dir) / app.name / v.run_name).exists()]
        if taken:
            raise KerasdlError(f"Run {Path(runs_dir) / app.name / taken[0]} already exists: choose "
                               "another `name`.")
        folder.mkdir(parents=True)
        kio.write_text(folder / BASE_CONFIG, to_toml(config))
        manifest = {
            "app": app.name, "varied": [[f, list(v)] for f, v in varied], "int8": int8,
            "runs_dir": str(runs_dir), "seeds": seeds,
            "variants": [{"values": v.values, "run": v.run_name, "status": "pending"} for v, _ in planned],
        }
        kio.write_json(folder / MANIFEST, manifest)

    result = Comparison(app=app.name, folder=folder, runs_dir=Path(runs_dir), fields=[f for f, _ in varied],
                        metric=app.headline_metric, monitor=app.monitor[0], direction=app.headline_mode,
                        seeds=seeds)
    rows = manifest["variants"]
    try:
        _run_variants(app, planned, rows, folder, manifest, runs_dir, int8, verbose)
    except KerasdlError:
        if not resume and all(r["status"] == "pending" for r in rows):
            # The first run could not start (bad data, say): leave no empty comparison
            # behind, so that the same command can be given again once it is fixed.
            shutil.rmtree(folder, ignore_errors=True)
        raise

    result.rows = [{"label": v.label, "values": v.values, "seed": v.seed, **r} for (v, _), r in zip(planned, rows)]
    kio.write_text(folder / TABLE, _document(result, config, int8))
    _plot(app, result)
    return result


def _run_variants(app: Any, planned: list[tuple[Variant, TrainConfig]], rows: list[dict[str, Any]],
                  folder: Path, manifest: dict[str, Any], runs_dir: str | Path, int8: bool,
                  verbose: Any) -> None:
    for i, (variant, variant_config) in enumerate(planned):
        row = rows[i]
        if row["status"] in ("completed", "failed"):
            logger.info("Variant %d/%d (%s): already %s", i + 1, len(planned), variant.label, row["status"])
            continue
        logger.info("Variant %d/%d: %s -> %s", i + 1, len(planned), variant.label,
                    Path(runs_dir) / app.name / variant.run_name)
        run = _train_variant(app, variant, variant_config, runs_dir, verbose, row)
        if run is not None:
            row.update(_results(app, run))
            row["status"] = "trained"
            kio.write_json(folder / MANIFEST, manifest)
            if int8 and (variant.seed is None or variant.seed == config_seed(planned, variant)):
                row.update(_int8_size(run, folder / "exports", variant.run_name))
            row["status"] = "completed"
        kio.write_json(folder / MANIFEST, manifest)


def _train_variant(app: Any, variant: Variant, config: TrainConfig, runs_dir: str | Path,
                   verbose: Any, row: dict[str, Any]) -> Run | None:
    """Trains (or finishes) a variant's run; None when its training diverged."""
    from kerasdl.training.workflow import train_run

    path = Path(runs_dir) / app.name / variant.run_name
    try:
        if (path / "run.json").is_file():
            run = Run.open(path)
            if run.meta.get("status") != "completed":
                logger.info("Resuming %s from epoch %d", path, run.meta.get("epochs_completed", 0))
                train_run(app.name, runs_dir=runs_dir, name=variant.run_name, resume=True, verbose=verbose)
            return run
        if path.exists():
            # Killed before the run wrote anything: nothing in it to keep.
            shutil.rmtree(path)
        return train_run(app.name, config, runs_dir=runs_dir, name=variant.run_name,
                         verbose=verbose).run
    except TrainingError as e:
        logger.warning("Variant %s failed: %s", variant.label, e)
        row.update(status="failed", error=str(e))
        return None


def _results(app: Any, run: Run) -> dict[str, Any]:
    from kerasdl.evaluation.baselines import best_baseline
    from kerasdl.training.saving import load_app_model

    metrics = kio.read_json(run.metrics_path)
    history = run.read_history()
    monitor, direction = app.monitor_for(run.meta.get("data", {}))
    logged = [r[monitor] for r in history if isinstance(r.get(monitor), (int, float))]
    best = (max if direction == "max" else min)(logged) if logged else None
    training = metrics.get("training", {})
    headline = app.headline_for(run.meta.get("data", {}))
    baseline = best_baseline(metrics.get("baselines", []), headline, app.headline_mode)
    return {
        "metric": metrics.get(headline),
        # The best classic baseline by validation, on this variant's data: its test metric.
        "baseline": {"name": baseline["name"], "metric": baseline.get("test", {}).get(headline)} if baseline else None,
        "best_monitor": best,
        "parameters": int(load_app_model(app, run.model_path()).count_params()),
        "epochs": training.get("epochs", len(history)),
        # The epochs' time summed over sessions: a resumed run counts all of it.
        "seconds": run.meta.get("training_seconds", training.get("seconds")),
    }


def _int8_size(run: Run, exports: Path, name: str) -> dict[str, Any]:
    from kerasdl.export.exporter import export_run

    export_name = name.replace(".", "_")
    existing = sorted((exports / "tflite").glob(f"{export_name}-*-int8.tflite"))
    if existing:
        return {"int8_bytes": existing[-1].stat().st_size, "int8_file": str(existing[-1])}
    try:
        report = export_run(run.path, formats=("tflite",), quantizations=("int8",),
                            out_dir=exports, name=export_name, check=False)
    except KerasdlError as e:
        logger.warning("No int8 TFLite file for %s: %s", run.path, e)
        return {"int8_bytes": None, "int8_error": str(e)}
    path = report.tflite["int8"]
    return {"int8_bytes": path.stat().st_size, "int8_file": str(path)}


def format_table(rows: Sequence[dict[str, Any]], fields: Sequence[str], metric: str,
                 monitor: str, direction: str) -> str:
    """The Markdown table of a comparison's rows."""
    done = [r for r in rows if r.get("metric") is not None]
    notes: list[str] = []
    pick = max if direction == "max" else min
    best = pick(r["metric"] for r in done) if done else None
    columns = [", ".join(fields), f"test {metric}", f"best {monitor}", "parameters", "epochs",
               "training time", "int8 TFLite"]
    baselines = {r["baseline"]["name"] for r in rows if r.get("baseline")}
    if baselines:
        columns.append(f"classic baseline, test {metric}")
        if len(baselines) == 1:
            notes.append(f"- Classic baseline (fitted on each variant's training split): {next(iter(baselines))}.")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        if r.get("status") == "failed":
            cells = [r["label"], "failed (see below)"] + ["-"] * (len(columns) - 2)
            notes.append(f"- {r['label']}: {r.get('error', 'failed')}")
        elif r.get("metric") is None:
            cells = [r["label"], "not run yet"] + ["-"] * (len(columns) - 2)
        else:
            value = format_metric(metric, r["metric"])
            if r["metric"] == best and len(done) > 1:
                value = f"**{value}**"
            size = "-"
            if r.get("int8_bytes"):
                size = f"{r['int8_bytes'] / 1024:.1f} KB"
            elif r.get("int8_error"):
                size = "not converted (see below)"
                notes.append(f"- {r['label']}, int8 TFLite: {r['int8_error']}")
            cells = [
                r["label"], value,
                format_metric(monitor, r["best_monitor"]) if r.get("best_monitor") is not None else "-",
                f"{r['parameters']:,}", str(r["epochs"]), _duration(r.get("seconds")), size,
            ]
        if baselines:
            baseline = r.get("baseline") or {}
            value = format_metric(metric, baseline["metric"]) if baseline.get("metric") is not None else "-"
            cells.append(value if len(baselines) == 1 or not baseline else f"{value} ({baseline['name']})")
        cells += ["-"] * (len(columns) - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ([""] + notes if notes else []))


def config_seed(planned: list[tuple[Variant, TrainConfig]], variant: Variant) -> int | None:
    """The first seed `variant`'s label is trained with (its int8 file stands for all:
    the size does not depend on the seed)."""
    return min(v.seed for v, _ in planned if v.label == variant.label and v.seed is not None)


def format_seeded_table(rows: Sequence[dict[str, Any]], fields: Sequence[str], metric: str,
                        monitor: str, direction: str) -> str:
    """The table of a comparison run with several seeds: per variant, the mean and
    standard deviation over its seeds; a mean within twice the standard error of the
    difference from the best one's is marked "within noise"."""
    import numpy as np

    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["label"], []).append(r)
    summary = []
    for label, group in groups.items():
        values = np.array([r["metric"] for r in group if r.get("metric") is not None], float)
        monitors = np.array([r["best_monitor"] for r in group if r.get("best_monitor") is not None], float)
        summary.append((label, group, values, monitors))
    done = [(label, v) for label, _, v, _ in summary if len(v)]
    pick = max if direction == "max" else min
    best_label, best = pick(done, key=lambda item: item[1].mean()) if done else (None, None)
    seeds = max(len(g) for _, g, _, _ in summary)
    columns = [", ".join(fields), f"test {metric} (mean ± std, {seeds} seeds)", f"best {monitor} (mean ± std)",
               "vs best", "parameters", "epochs", "training time (mean)", "int8 TFLite"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    notes = []
    for label, group, values, monitors in summary:
        failed = [r for r in group if r.get("status") == "failed"]
        notes += [f"- {label}, seed {r.get('seed')}: {r.get('error', 'failed')}" for r in failed]
        if not len(values):
            lines.append("| " + " | ".join([label, "not run yet" if not failed else "failed (see below)"]
                                            + ["-"] * (len(columns) - 2)) + " |")
            continue
        verdict = "best" if label == best_label else _noise_verdict(values, best)
        size = next((f"{r['int8_bytes'] / 1024:.1f} KB" for r in group if r.get("int8_bytes")), "-")
        seconds = [r["seconds"] for r in group if r.get("seconds") is not None]
        cells = [label, _mean_std(metric, values),
                 _mean_std(monitor, monitors) if len(monitors) else "-", verdict,
                 f"{group[0].get('parameters', 0):,}", str(group[0].get("epochs", "-")),
                 _duration(float(np.mean(seconds)) if seconds else None), size]
        lines.append("| " + " | ".join(cells) + " |")
    notes.append(f"- Within noise: the difference from the best mean is under twice its standard error "
                 f"(sqrt(s1²/n1 + s2²/n2)) over {seeds} seeds.")
    return "\n".join(lines + [""] + notes)


def _mean_std(name: str, values: Any) -> str:
    import numpy as np

    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    if "accuracy" in name:
        return f"{100 * float(np.mean(values)):.2f} ± {100 * std:.2f} %"
    return f"{format_metric(name, float(np.mean(values)))} ± {std:.2g}"


def _noise_verdict(values: Any, best: Any) -> str:
    import numpy as np

    def variance(v: Any) -> float:
        return float(np.var(v, ddof=1)) / len(v) if len(v) > 1 else 0.0

    gap = abs(float(np.mean(best)) - float(np.mean(values)))
    error = (variance(values) + variance(best)) ** 0.5
    return "within noise" if gap < 2 * error else "worse"


def format_metric(name: str, value: float) -> str:
    """Accuracies as percentages, anything else with four significant digits (kept
    when they are zeros, so a column's numbers line up)."""
    if "accuracy" in name:
        return f"{100 * value:.2f} %"
    return f"{value:#.4g}".rstrip(".")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _document(result: Comparison, config: TrainConfig, int8: bool) -> str:
    varied = set(result.fields)
    same = ", ".join(f"{k}={v}" for k, v in config.to_dict().items()
                     if k not in varied and k in ("dataset", "model", "epochs", "seed", "batch_size",
                                                  "optimizer", "learning_rate", "schedule"))
    lines = [
        f"# {result.app}: {' x '.join(result.fields)}", "",
        result.table(), "",
        f"Every variant: {same} (the rest in {BASE_CONFIG}). Test {result.metric} is the "
        f"best epoch's (picked by {result.monitor}) on the test split."
        + (" int8 TFLite: full-integer quantization calibrated on training data." if int8 else ""),
        "", f"![curves]({CURVES})", "",
    ]
    return "\n".join(lines)


def _plot(app: Any, result: Comparison) -> None:
    from kerasdl.evaluation.plots import plot_overlaid_curves

    histories: dict[str, list[list[dict[str, Any]]]] = {}
    for r in result.rows:  # every seed's curves: drawn as their mean with a band of one std
        path = result.runs_dir / app.name / r["run"]
        if r.get("status") != "failed" and (path / "run.json").is_file():  # a diverged run's NaNs stay out
            rows = Run(path).read_history()
            if rows:
                histories.setdefault(r["label"], []).append(rows)
    keys = [result.monitor] + [k for k in app.comparison_curves if k != result.monitor]
    plot_overlaid_curves(histories, keys, result.curves_path,
                         title=f"{app.name}: {', '.join(result.fields)}")
