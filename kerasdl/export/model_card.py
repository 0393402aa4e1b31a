"""A model card in Markdown written beside every export: what the model was trained on,
how, how well it does, how its files agree, what it is for and how to call it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kerasdl.backbones.hub import recorded_preset_name
from kerasdl.export.layout import exported_data_name

KOTLIN = {
    "ImageClassifier": '''val classifier = ImageClassifier.createFromOptions(context,
    ImageClassifier.ImageClassifierOptions.builder()
        .setBaseOptions(BaseOptions.builder().setModelAssetPath("{file}").build())
        .setMaxResults(3).build())
val result = classifier.classify(BitmapImageBuilder(bitmap).build())
val top = result.classificationResult().classifications()[0].categories()[0]
// top.categoryName(), top.score()''',
    "AudioClassifier": '''val classifier = AudioClassifier.createFromOptions(context,
    AudioClassifier.AudioClassifierOptions.builder()
        .setBaseOptions(BaseOptions.builder().setModelAssetPath("{file}").build())
        .setMaxResults(3).build())
val audio = AudioData.create(AudioData.AudioDataFormat.builder().setNumOfChannels(1)
    .setSampleRate({rate}f).build(), samples.size)
audio.load(samples)  // FloatArray in [-1, 1]
val top = classifier.classify(audio)[0].classificationResult().classifications()[0].categories()[0]''',
    "TextClassifier": '''val classifier = TextClassifier.createFromFile(context, "{file}")
val top = classifier.classify(review).classificationResult().classifications()[0].categories()[0]''',
}
PYTHON = {
    "ImageClassifier": ('vision', 'ImageClassifier', 'classifier.classify(mp.Image.create_from_file("photo.png"))'),
    "AudioClassifier": ('audio', 'AudioClassifier',
                        'classifier.classify(audio_data.AudioData.create_from_array(samples, {rate}))'),
    "TextClassifier": ('text', 'TextClassifier', 'classifier.classify("what a great film")'),
}
GRADLE = {"ImageClassifier": "tasks-vision", "AudioClassifier": "tasks-audio", "TextClassifier": "tasks-text"}


def data_licence(app: Any, source: str) -> str:
    """The bundled sample's licence line from its README; for a user's own data, a
    request to state it."""
    for sample in app.bundled_samples():
        if not (re.search(re.escape(str(sample)) + r"(?![\w.-])", source) and (sample / "README.md").is_file()):
            continue
        for line in (sample / "README.md").read_text(encoding="utf-8").splitlines():
            match = re.match(r"\s*-\s*\*\*Licen[cs]e\*\*:\s*(.+)", line)
            if match:
                return f"{match.group(1)} (kerasdl's bundled sample; see its README for the citation)"
    return "Your own data: state its licence here, and export with `--license` for the model's."


def _recipe(config_text: str) -> str:
    """The run's config.toml with its `dataset` path cut to the data's name, as the
    Source line has it."""
    def short(match: re.Match[str]) -> str:
        value = re.sub(r"\\(.)", r"\1", match.group(2))  # to_toml escapes only \\ and \"
        name = exported_data_name(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'{match.group(1)}"{name}"'

    return re.sub(r'^(dataset = )"((?:[^"\\]|\\.)*)"$', short, config_text, flags=re.M)


def pretrained_line(backbone: dict[str, Any]) -> str:
    """Where a fine-tuned model's backbone started, for the card.

    Example:
    >>> pretrained_line({"name": "mobilenet_v3_small", "input_size": 224,
    ...     "weights": {"source": "cache", "file": "w.h5", "sha256": "ab" * 32}})
    'Started from the pretrained backbone `mobilenet_v3_small` (input 224x224), weights from the cache: `w.h5`, sha256 abababababababababababababababababababababababababababababababab.'
    >>> pretrained_line({"name": "/home/me/presets/bert_tiny", "weights": {"source": "preset"}})
    "Started from the pretrained backbone `bert_tiny`, weights the preset's own."
    >>> pretrained_line({"name": "hf://keras/bert_tiny_en_uncased", "weights": {"source": "preset"}})
    "Started from the pretrained backbone `hf://keras/bert_tiny_en_uncased`, weights the preset's own."
    """
    weights = backbone.get("weights", {})
    where = {"cache": "from the cache", "download": "downloaded", "file": "from the user's file",
             "none": "random (trained from scratch)", "preset": "the preset's own"}.get(
        weights.get("source", ""), weights.get("source", "?"))
    name = recorded_preset_name(str(backbone.get("name")))  # the card travels with the model
    size = f" (input {backbone['input_size']}x{backbone['input_size']})" if backbone.get("input_size") else ""
    text = f"Started from the pretrained backbone `{name}`{size}, weights {where}"
    if weights.get("file"):
        text += f": `{weights['file']}`, sha256 {weights.get('sha256')}"
    return text + "."


def model_card(*, app: Any, metadata: dict[str, Any], run_meta: dict[str, Any], config_text: str,
               test_metrics: dict[str, Any] | None, report: Any) -> str:
    """The card's Markdown text."""
    info, name, version = metadata["info"], metadata["name"], metadata["version"]
    data = run_meta.get("data", {})
    sizes = data.get("sizes", {})
    lines = [f"# Model card: {name} version {version}", "",
             f"kerasdl {app.name} ({app.description.rstrip('.').lower()}), model `{metadata['model']}`, "
             f"exported {metadata['created']} by kerasdl {metadata['kerasdl_version']} from run `{metadata['run']}`.",
             "", "## Data", "",
             # The data's name only (the card travels with the model); the licence is
             # looked up by the run's full path, which the bundled samples are matched on.
             f"- Source: `{exported_data_name(str(data.get('source', 'unknown')))}`",
             "- Split sizes: " + (", ".join(f"{k} {v:,}" for k, v in sizes.items()) or "not recorded"),
             f"- Licence: {data_licence(app, str(data.get('source', '')))}"]
    if info.get("class_names"):
        lines.append(f"- Classes ({len(info['class_names'])}): " + ", ".join(map(str, info["class_names"])))
    lines += ["", "## Training recipe", "", "```toml", _recipe(config_text).strip(), "```", "",
              f"{run_meta.get('epochs_completed', '?')} epochs, {run_meta.get('training_seconds', 0):.0f} s; "
              f"best checkpoint by {', '.join(f'{k} {v:.4f}' for k, v in (run_meta.get('best') or {}).items())}."]
    if data.get("backbone"):
        lines += ["", pretrained_line(data["backbone"])]
    lines += ["", "## Test metrics", ""]
    if test_metrics:
        shown = {k: v for k, v in test_metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        lines += ["| metric | value |", "|---|---|"] + [
            f"| {k} | {v:,} |" if isinstance(v, int) or float(v).is_integer() else f"| {k} | {v:.4f} |"
            for k, v in shown.items()]
        lines.append(f"\nOn the {test_metrics.get('split', 'test')} split.")
        if test_metrics.get("baselines"):
            from kerasdl.evaluation.baselines import format_baseline_metrics

            lines += ["", "Classic baselines fitted on the same training split (their setting chosen on "
                      "validation), beside the model:", "", "```",
                      format_baseline_metrics(test_metrics, report.metric), "```"]
    else:
        lines.append("Not evaluated (the run has no metrics.json).")
    lines += ["", "## Files and their agreement with Keras", ""]
    if report.rows:
        lines += ["Measured at export on the test split (max |diff| is the largest difference of any output "
                  "from the Keras model's).", "", "```", report.table(), "```"]
        lines += [f"\n**Worse than Keras:** {note}." for note in report.worse_notes()]
    else:
        lines.append("Not checked (exported with `--no-check`).")
    if report.saved_model:
        lines.append(f"\nSavedModel for TF Serving: `{report.saved_model}`.")
    for q, path in report.tflite.items():
        lines.append(f"- TFLite {q}: `{Path(path).name}`, MediaPipe task: {report.tasks.get(q, '-')}")
    lines += ["", "## Intended use and limits", "",
              f"For {app.description.rstrip('.').lower()} on data like the training data above. The test "
              "metrics hold for data drawn like the test split; other cameras, microphones, languages or "
              "periods can score lower, and no fairness or robustness study was made. Check it on your own "
              "data before relying on it, and keep a person in the loop where a wrong answer costs much."]
    notes = dict.fromkeys(report.task_notes.values())
    lines += [f"- No MediaPipe task: {note}." for note in notes]
    lines += ["", "## How to call it", ""]
    tasks = {t for t in report.tasks.values() if t and t != "-"}
    first = next(iter(report.tflite.values()), None)
    file = Path(first).name if first else f"{name}.tflite"
    rate = info.get("sample_rate", 16000)
    for task in sorted(tasks):
        module, cls, call = PYTHON[task]
        lines += [f"MediaPipe Tasks on Android (Gradle: `implementation 'com.google.mediapipe:{GRADLE[task]}:latest.release'`, or pin the newest on Google's Maven; "
                  f"the model in `src/main/assets/`):", "", "```kotlin", KOTLIN[task].format(file=file, rate=rate), "```",
                  "", "MediaPipe Tasks in Python (`pip install mediapipe`):", "", "```python",
                  "import mediapipe as mp",
                  f"from mediapipe.tasks.python import {module}",
                  "from mediapipe.tasks.python.core.base_options import BaseOptions",
                  *(["from mediapipe.tasks.python.components.containers import audio_data"] if module == "audio" else []),
                  f"classifier = {module}.{cls}.create_from_options({module}.{cls}Options(",
                  f'    base_options=BaseOptions(model_asset_path="{file}")))',
                  f"result = {call.format(rate=rate)}", "```", ""]
    if first:
        lines += ["kerasdl-edge (Raspberry Pi, any Linux; `pip install ./tflite`):", "", "```bash",
                  f"kerasdl-edge predict {file} INPUT...", "```", ""]
    if report.saved_model:
        lines += ["TF Serving's REST API (`kerasdl serve` answers the same requests):", "", "```bash",
                  f"curl -d '{{\"signature_name\": \"serving_default\", \"instances\": [...]}}' "
                  f"http://localhost:8501/v1/models/{name}:predict", "```", "",
                  f"`kerasdl predict {name} INPUT... --server http://localhost:8501 --app {app.name}` builds "
                  "the request for you."]
    return "\n".join(lines).rstrip() + "\n"
