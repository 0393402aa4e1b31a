"""`kerasdl export`: a run to a SavedModel and TFLite files, each checked against Keras."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerasdl import __version__
from kerasdl import io as kio
from kerasdl.errors import KerasdlError
from kerasdl.export.layout import (
    check_model_name,
    exported_data_name,
    latest_saved_model,
    next_version,
    tflite_path,
    write_models_config,
)
from kerasdl.export.tflite import QUANTIZATIONS

logger = logging.getLogger(__name__)

FORMATS = ("saved_model", "tflite")
LITERT_PREFIX = "litert-"
CHECK_BATCH = 256

# How much worse than the Keras model's a variant's headline metric may be, as a
# fraction of Keras's value, before the export table and the model card mark it (never
# an error: the file is written). By what each variant rounds: the SavedModel and the
# float32 file compute the same float32 function (op order only: output diffs ~1e-5);
# float16 weights keep 11 significant bits; 8-bit weights (dynamic, weight-only) round
# each kernel to 256 levels with float activations; full int8 also rounds activations,
# to ranges calibrated on training data. On a learnable task int8 agreed with Keras on
# 1000/1000 predictions (STACK.md): a loss of more than 5 % means a range did not hold
# the test data (a forecast's level drifting beyond the training windows': MSE 0.10
# against Keras's 0.027). 4-bit weights lose more by design.
METRIC_TOLERANCE: dict[str, float] = {
    "saved_model": 0.001, "float32": 0.001, "float16": 0.01, "dynamic": 0.02, "int8": 0.05,
    # LiteRT Quantizer's recipes (`--litert`), by the same reasoning.
    "static_wi8_ai8": 0.05, "static_wi8_ai16": 0.02, "dynamic_wi8_afp32": 0.02,
    "weight_only_wi8_afp32": 0.02, "weight_only_wi4_afp32": 0.10,
}
# Below this a metric difference is rounding, whatever the tolerance (an MSE of 0 exactly).
METRIC_FLOOR = 1e-6
WORSE_MARK = "!"


class InterfaceChanged(KerasdlError):
    """An export would become the next version of a model that answers differently."""


def _brief(labels: Sequence[Any] | None) -> str:
    if labels is None:
        return "none"
    shown = ", ".join(map(str, labels[:5])) + (", ..." if len(labels) > 5 else "")
    return f"{len(labels)} ({shown})"


def check_same_interface(root: Path, name: str, labels: Sequence[Any] | None, model: Any,
                         endpoints: dict[str, Any]) -> None:
    """Refuses to make the next version of `name` from a model whose labels or serving
    inputs differ from the newest SavedModel version's.

    TF Serving swaps to a model's newest version without a word: a digit classifier
    exported as the next version of a shoe classifier would answer that model's clients
    with digits, and a changed input shape would fail all their requests.

    Raises:
        InterfaceChanged: naming what differs, with the fix (another name).
    """
    from kerasdl.export.saved_model import endpoint_inputs, signature_inputs
    from kerasdl.saved_model_format import read_saved_model_metadata

    served = latest_saved_model(root, name)
    if served is None:
        return
    differences = []
    metadata = read_saved_model_metadata(served)
    if "info" in metadata:  # not a kerasdl export: its labels are unknown
        served_labels = metadata["info"].get("class_names")
        if (list(served_labels) if served_labels is not None else None) != \
                (list(labels) if labels is not None else None):
            differences.append(f"labels {_brief(served_labels)} there, {_brief(labels)} here")
    try:
        served_inputs = signature_inputs(served)
    except Exception as e:  # an unreadable saved_model.pb: TF Serving cannot serve it either
        logger.warning("Cannot read the signatures of %s (%s); not comparing them", served, e)
        served_inputs = {}
    inputs = endpoint_inputs(model, endpoints)
    for signature, served_spec in sorted(served_inputs.items()):
        spec = inputs.get(signature)
        if spec is None:
            differences.append(f"signature {signature!r} missing here")
        elif spec != served_spec:
            changed = [f"{k}: {served_spec.get(k, 'none')} there, {spec.get(k, 'none')} here"
                       for k in sorted({*served_spec, *spec}) if served_spec.get(k) != spec.get(k)]
            differences.append(f"signature {signature!r} inputs " + "; ".join(changed))
    if differences:
        raise InterfaceChanged(
            f"{served} (served as {name!r}) differs from this run: {'; '.join(differences)}. Its next "
            f"version would replace it for every client (TF Serving serves the newest); export under "
            f"another name with `name=NEW`, or to another `out_dir`.")


@dataclass
class ExportReport:
    """What an export wrote and how each variant compares with the Keras model."""

    name: str
    version: int
    metric: str
    saved_model: Path | None = None
    tflite: dict[str, Path] = field(default_factory=dict)
    # The MediaPipe task each TFLite file runs in ("-" for none), and why not where none.
    tasks: dict[str, str] = field(default_factory=dict)
    task_notes: dict[str, str] = field(default_factory=dict)
    model_card: Path | None = None
    # Variants the converter could not make, with why; the others are still written.
    failed: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def table(self) -> str:
        if not self.rows:
            return ""
        width = max(14, *(len(r["variant"]) for r in self.rows))
        lines = [f"{'variant':<{width}} {'size':>10}  {self.metric:>9}  {'keras':>9}  {'max |diff|':>10}  "
                 "MediaPipe task"]
        for r in self.rows:
            size = f"{r['bytes'] / 1024:.1f} KB" if r["bytes"] is not None else "-"
            task = self.tasks.get(r["variant"].removeprefix("tflite-"), "") if r["bytes"] is not None else ""
            mark = WORSE_MARK if r.get("worse") else " "  # in the column gap: the columns stay put
            lines.append(
                f"{r['variant']:<{width}} {size:>10}  {r['metric']:>9.4f}{mark} {r['keras_metric']:>9.4f}  "
                f"{r['max_abs_diff']:>10.2e}  {task}".rstrip()
            )
        return "\n".join(lines + [f"{WORSE_MARK} {note}" for note in self.worse_notes()])

    def worse_notes(self) -> list[str]:
        """One line per variant scoring worse than Keras beyond its precision's tolerance."""
        return [f"{r['variant']} is worse than Keras beyond the tolerance for its precision: "
                f"{self.metric} {r['metric']:.4f} against {r['keras_metric']:.4f} (allowed: "
                f"{r['tolerance']:.1%} worse); check its file before shipping it"
                for r in self.rows if r.get("worse")]


def export_run(
    run_path: str | Path,
    *,
    formats: Sequence[str] = FORMATS,
    quantizations: Sequence[str] = QUANTIZATIONS,
    out_dir: str | Path = "saved_models",
    name: str | None = None,
    check: bool = True,
    representative_examples: int = 300,
    task_ready: bool = True,
    author: str = "",
    license: str = "",
    litert_recipes: Sequence[str] = (),
) -> ExportReport:
    """Exports a run's best model.

    Args:
        run_path: a run directory.
        formats: saved_model and/or tflite.
        quantizations: TFLite variants among float32, dynamic, float16, int8.
        out_dir: the export root (TF Serving's model base folder).
        name: the served model's name (default: the app's name).
        check: evaluate every variant on the test split against the Keras model.
        representative_examples: training examples used to calibrate int8.
        task_ready: TFLite files take what MediaPipe Tasks hand a model (RGB frames,
            float32 waveforms) where the model's own input differs; False keeps the
            model's own input (grey images, int16 PCM).
        author: the standard metadata's author (default: "kerasdl").
        license: the standard metadata's licence of the model (default: a note that
            it follows the training data's licence).
        litert_recipes: more TFLite variants, each the float32 file quantized by
            LiteRT Quantizer with one of its recipes (`kerasdl.export.quantizer`),
            named `litert-RECIPE`: the maintained successor of the converter's
            post-training quantization, side by side with it.

    Returns:
        An `ExportReport` (also written next to the TFLite files as JSON). When
        several quantizations are asked for and the converter cannot make some, the
        others are written and the failures listed in `report.failed`.

    Raises:
        KerasdlError: bad arguments, or a model that cannot be converted.
    """
    from kerasdl.loading import open_run

    for f in formats:
        if f not in FORMATS:
            raise KerasdlError(f"`format` must be one of {', '.join(FORMATS)}. Received: {f!r}")
    for q in quantizations:
        if q not in QUANTIZATIONS:
            raise KerasdlError(
                f"`quantize` must be one of {', '.join(QUANTIZATIONS)}. Received: {q!r}"
            )
    from kerasdl.export.quantizer import QUANTIZER_RECIPES

    for r in litert_recipes:
        if r not in QUANTIZER_RECIPES:
            raise KerasdlError(f"`litert` must be among {', '.join(QUANTIZER_RECIPES)}. Received: {r!r}")
    opened = open_run(run_path)
    run, app, config, info = opened.run, opened.app, opened.config, opened.info
    root = Path(out_dir)
    name = check_model_name(name or app.name)
    version = next_version(root, name)
    spec = app.export_spec(config, info)
    model = _float32(app, config, info, spec.exported_model(opened.load_model()))
    check_same_interface(root, name, info.get("class_names"), model, spec.serving_endpoints(model))
    metadata = {
        "kerasdl_version": __version__,
        "app": app.name,
        "task": app.task,  # picks the codec on a device (`kerasdl_edge.codecs.TASKS`)
        "name": name,
        "version": version,
        "run": str(run.path),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "model": model.name,
        "info": exported_info(info),
        "preprocessing": spec.preprocessing_metadata(),
    }
    report = ExportReport(name=name, version=version, metric=app.headline_for(info))
    # The data is read again only to calibrate int8 and to check the variants: the
    # metadata comes from the run's info.
    calibrate = "tflite" in formats and ("int8" in quantizations or any(r.startswith("static")
                                                                       for r in litert_recipes))
    data = app.load_datasets(config, fitted=info) if check or calibrate else None

    if "saved_model" in formats:
        from kerasdl.export.saved_model import export_saved_model

        report.saved_model = export_saved_model(
            model, spec.serving_endpoints(model), metadata, root / name / str(version)
        )
        write_models_config(root)
        logger.info("SavedModel written to %s", report.saved_model)

    task_input = spec.task_input() if task_ready else None
    wrapped: set[str] = set()  # the TFLite variants that take the task input
    if "tflite" in formats:
        from kerasdl.export.tflite import convert, convert_qat
        from kerasdl_edge import write_metadata
        from kerasdl_edge.standard_metadata import write_standard_metadata

        representative = _representative_batches(data.train, representative_examples) if calibrate else None
        convertible = spec.tflite_model(model)
        if task_input is not None:
            convertible = task_input.wrap(convertible)
            representative = [task_input.convert(batch) for batch in representative or []] or None
        qat_model = (run.meta.get("optimization") or {}).get("qat_model")
        float_content: bytes | None = None  # the converter's float32 file, before metadata
        variants = [*quantizations, *(f"{LITERT_PREFIX}{r}" for r in litert_recipes)]
        for q in variants:
            # The quantization-aware model is converted as trained: its own input.
            quantization_aware = bool(q == "int8" and qat_model)
            made_with = "TFLite converter"
            variant_info = info if task_input is None or quantization_aware else {**info, **task_input.info}
            try:
                if quantization_aware:
                    logger.info("Converting the quantization-aware model to TFLite (int8)")
                    content = convert_qat(run.checkpoints / qat_model, int8_output=spec.int8_output)
                elif q.startswith(LITERT_PREFIX) or (q == "dynamic" and spec.settings.dynamic_with_litert):
                    from kerasdl.export.quantizer import quantize_tflite

                    recipe = q.removeprefix(LITERT_PREFIX) if q != "dynamic" else "dynamic_wi8_afp32"
                    if float_content is None:
                        float_content = convert(convertible, "float32")
                    logger.info("Quantizing with LiteRT Quantizer (%s)", recipe)
                    made_with = f"LiteRT Quantizer {recipe}"
                    content = quantize_tflite(float_content, recipe, representative,
                                              float_layers=spec.settings.int8_float_layers)
                else:
                    logger.info("Converting to TFLite (%s)", q)
                    content = convert(convertible, q, representative if q == "int8" else None,
                                      float_layers=spec.settings.int8_float_layers, int8_output=spec.int8_output)
                    if q == "float32":
                        float_content = content
            except KerasdlError as e:  # ExportError, QuantizerError
                if len(variants) == 1:
                    raise
                report.failed[q] = str(e)
                continue
            mobile = _single_subgraph_task(spec.for_info(variant_info).mobile_task(), content)
            content = write_metadata(content, {**metadata, "info": exported_info(variant_info), "quantization": q,
                                               "quantization_aware": quantization_aware,
                                               "quantizer": made_with, "mediapipe_task": mobile.task})
            content = write_standard_metadata(content, _standard_metadata(
                app, name, version, model.name, q, mobile, content, author=author, license=license))
            if variant_info is not info:
                wrapped.add(q)
            report.tasks[q] = mobile.task or "-"
            if mobile.note:
                report.task_notes[q] = mobile.note
            path = tflite_path(root, name, version, q)
            path.parent.mkdir(parents=True, exist_ok=True)
            with kio.atomic_path(path) as tmp:
                tmp.write_bytes(content)
            report.tflite[q] = path

    if check and data is not None:
        split = data.test if data.test is not None else data.validation
        report.rows = _check(app, model, report, split, info,
                             task_input.convert if task_input is not None else None, wrapped)
        if report.tflite:
            kio.write_json(root / "tflite" / f"{name}-{version}-check.json",
                           {"metric": report.metric, "rows": report.rows, "failed": report.failed})
    report.model_card = _write_model_card(root, app, run, metadata, report)
    return report


def exported_info(info: dict[str, Any]) -> dict[str, Any]:
    """A run's data info as exported files carry it: the data named, not its path on
    the machine that trained (`exported_data_name`); run.json keeps the paths."""
    out = dict(info)
    if isinstance(out.get("source"), str):
        out["source"] = exported_data_name(out["source"])
    if isinstance(out.get("noise_files"), list):  # speech: background-noise WAVs, for training only
        out["noise_files"] = [exported_data_name(str(p)) for p in out["noise_files"]]
    return out


def _write_model_card(root: Path, app: Any, run: Any, metadata: dict[str, Any], report: ExportReport) -> Path:
    from kerasdl.export.model_card import model_card

    metrics = kio.read_json(run.metrics_path) if run.metrics_path.is_file() else None
    config_text = run.config_path.read_text(encoding="utf-8") if run.config_path.is_file() else ""
    path = root / f"{report.name}-{report.version}-model-card.md"
    text = model_card(app=app, metadata=metadata, run_meta=run.meta, config_text=config_text,
                      test_metrics=metrics, report=report)
    with kio.atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _single_subgraph_task(mobile: Any, content: bytes) -> Any:
    """MediaPipe's classifiers run single-subgraph models only ("Classification tflite
    models are assumed to have a single subgraph"): a recurrent layer's WHILE loop makes
    more."""
    from dataclasses import replace

    from kerasdl_edge.metadata import subgraph_count

    if mobile.task is None or subgraph_count(content) == 1:
        return mobile
    return replace(mobile, task=None, note=(
        f"MediaPipe's {mobile.task} runs single-subgraph models only, and this one's recurrent "
        "layers convert to a loop of several subgraphs; use a cnn or transformer model for it, or "
        "run this file with kerasdl-edge or the TFLite interpreter"))


def _standard_metadata(app: Any, name: str, version: int, model_name: str, quantization: str,
                       mobile: Any, content: bytes, *, author: str, license: str) -> Any:
    from kerasdl_edge.standard_metadata import StandardMetadata

    return StandardMetadata(
        name=name,
        description=f"kerasdl {app.name}: {app.description} Model {model_name}, TFLite {quantization}.",
        version=str(version),
        author=author or "kerasdl",
        license=license or "Not given at export: the model follows the licence of its training data.",
        inputs=_in_file_order(mobile.inputs, content), outputs=(mobile.output,),
        input_tokenizer=mobile.tokenizer,
    )


def _in_file_order(inputs: tuple[Any, ...], content: bytes) -> tuple[Any, ...]:
    """The input tensors' descriptions in the order of the file's inputs (the converter
    orders a multi-input model's inputs its own way; MediaPipe finds a BERT model's by
    the names described)."""
    if len(inputs) == 1:
        return inputs
    from kerasdl_edge.metadata import input_key, model_input_names

    by_name = {info.name: info for info in inputs}
    names = [input_key(n) for n in model_input_names(content)]
    if set(names) != set(by_name):
        raise KerasdlError(f"The TFLite file's inputs are {names}; the export describes {sorted(by_name)}.")
    return tuple(by_name[n] for n in names)


def _float32(app: Any, config: Any, info: dict[str, Any], model: Any) -> Any:
    """A float32 copy of a model trained under mixed precision (its float16 layers
    would need Flex ops in TFLite and run slowly on CPUs); the model itself otherwise."""
    import keras

    if not any(layer.dtype_policy.name.startswith("mixed") for layer in model.layers):
        return model
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        twin = app.build_model(config, info)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    twin.set_weights(model.get_weights())
    return twin


def _representative_batches(ds: Any, count: int) -> list[np.ndarray]:
    """`count` training inputs spread evenly over the split: the first ones alone
    would calibrate a time-ordered split (a series) on its first days only."""
    from kerasdl.data.pipeline import as_arrays, count_examples

    every = max(1, count_examples(ds) // count)
    inputs = [as_arrays(x) for x, _ in ds.shard(every, 0).take(count)]
    if not inputs:
        raise KerasdlError("The training split is empty: no data to calibrate int8 with.")
    if isinstance(inputs[0], dict):  # a model of several named inputs
        return [{key: np.stack([x[key] for x in inputs]) for key in inputs[0]}]
    return [np.stack(inputs)]



def variant_tolerance(variant: str) -> float:
    """`METRIC_TOLERANCE` of a row's variant (saved_model, tflite-int8, tflite-litert-RECIPE)."""
    key = variant.removeprefix("tflite-").removeprefix(LITERT_PREFIX)
    return METRIC_TOLERANCE.get(key, METRIC_TOLERANCE["int8"])


def is_worse(metric: float, keras_metric: float, tolerance: float, mode: str) -> bool:
    """Whether `metric` is worse than Keras's by more than `tolerance` of Keras's value
    (`mode`: "max" when higher is better, "min" when lower is)."""
    if not (np.isfinite(metric) and np.isfinite(keras_metric)):
        return bool(np.isfinite(keras_metric))  # a NaN where Keras had a number
    worse_by = keras_metric - metric if mode == "max" else metric - keras_metric
    return bool(worse_by > max(tolerance * abs(keras_metric), METRIC_FLOOR))


def _check(app: Any, model: Any, report: ExportReport, ds: Any, info: dict[str, Any],
           to_task_input: Any = None, wrapped: set[str] | None = None) -> list[dict[str, Any]]:
    from kerasdl.app import predict_dataset
    from kerasdl.data.pipeline import as_arrays, evaluation_pipeline

    batches = evaluation_pipeline(ds, CHECK_BATCH)
    targets, keras_out = predict_dataset(model, batches)
    keras_metric = app.score(targets, keras_out, info)[report.metric]
    rows = []

    def row(variant: str, size: int | None, outputs: np.ndarray) -> dict[str, Any]:
        metric = float(app.score(targets, outputs, info)[report.metric])
        tolerance = variant_tolerance(variant)
        return {
            "variant": variant,
            "bytes": size,
            "metric": metric,
            "keras_metric": float(keras_metric),
            "max_abs_diff": float(np.max(np.abs(outputs - keras_out))) if len(outputs) else 0.0,
            "tolerance": tolerance,
            "worse": is_worse(metric, float(keras_metric), tolerance, app.headline_mode),
        }

    if report.saved_model is not None:
        from kerasdl.loading import load_any_model

        _, _, call = load_any_model(report.saved_model)
        _, outputs = predict_dataset(call, batches)
        rows.append(row("saved_model", None, outputs))
    for q, path in report.tflite.items():
        from kerasdl_edge import EdgeModel

        edge = EdgeModel(path)
        convert = to_task_input if q in (wrapped or ()) else as_arrays
        _, outputs = predict_dataset(lambda x, training=False: edge(convert(as_arrays(x))), batches)
        rows.append(row(f"tflite-{q}", edge.size_bytes, outputs))
    return rows
