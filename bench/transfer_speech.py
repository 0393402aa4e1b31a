"""Transfer learning for speech, measured here: YAMNet's network pretrained by kerasdl on
the Free Spoken Digit Dataset, fine-tuned on new words through `kerasdl train speech
--backbone yamnet --weights FILE` (`python bench/transfer.py --speech` runs it).

The published yamnet.h5 (AudioSet) cannot be downloaded on this machine, so the mechanism
is measured with a stand-in: YAMNet's layers trained from random weights (`--weights
none`) on FSDD's 3,000 recordings (10 digits, 6 speakers, resampled to 16 kHz), saved in
the published file's layout, then fine-tuned on the Speech Commands sample (30 words, 10
clips each, other speakers: its official validation and test lists), against the same
network from random weights, kerasdl's default CNN and the classic log-mel baseline fitted
in the same runs, 3 seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tarfile
from pathlib import Path

from common import (REPO, SHARED_DATA, fine_tuning_speeds, markdown_table, mean_std, require, train_in_child,
                    write_result)

WORK = REPO / "bench" / "runs" / "transfer_speech"


def extract(archive: Path, folder: str) -> Path:
    target = WORK / folder
    if not target.is_dir():
        WORK.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(WORK, filter="data")
    return target


def train(dataset: Path, name: str, *args: str) -> dict:
    """`kerasdl train speech` in a child process (`common.train_in_child`); its metrics.json."""
    return train_in_child("speech", WORK / "runs", dataset, name, *args)


def own_result(run: Path, metrics: dict, model: str, epochs: int) -> tuple[float, float]:
    """(test accuracy, training seconds per epoch) of the arm's own model: a run that chose
    between it and the baseline (no --model given) recorded each candidate's."""
    chosen = json.loads((run / "run.json").read_text()).get("auto") or {}
    for candidate in chosen.get("candidates", []):
        if candidate["label"] == model and candidate.get("test") is not None:
            return float(candidate["test"]), float(candidate["seconds"]) / epochs
    return float(metrics["accuracy"]), metrics["training"]["seconds"] / max(1, metrics["training"]["epochs"])


def save_published_layout(run: Path, path: Path) -> None:
    """The run's YAMNet backbone as the published file lays it out (legacy HDF5, every
    weighted layer in order, a 521-class logits layer last: random, never used)."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from kerasdl.backbones.audio import yamnet_layers
    from kerasdl.registry import get_app
    from kerasdl.runs import Run
    from kerasdl.training.saving import load_app_model

    backbone = load_app_model(get_app("speech"), Run.open(run).model_path()).get_layer("backbone")
    full = yamnet_layers(backbone.inputs[0].shape[1], backbone.inputs[0].shape[2], keras, logits=True)
    for layer in backbone.layers:
        if layer.weights:
            full.get_layer(layer.name).set_weights(layer.get_weights())
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, full)
    keras.backend.clear_session()


def measure(args: argparse.Namespace) -> None:
    fsdd = extract(require(SHARED_DATA / "fsdd" / "fsdd.tar.gz"), "fsdd") / "recordings"
    words = extract(require(SHARED_DATA / "speech_commands" / "speech_commands_v0.01_sample300.tar.gz"),
                    "speech_commands_v0.01_sample300")
    weights = WORK / "yamnet_fsdd.h5"
    if not weights.is_file():
        pre = train(fsdd, "pretrain", "--backbone", "yamnet", "--weights", "none", "--epochs",
                    str(args.speech_pretrain_epochs), "--no-baseline")
        print(f"pretrained on FSDD: test accuracy {pre['accuracy']:.4f}, {pre['training']['seconds']:.0f} s",
              flush=True)
        save_published_layout(WORK / "runs" / "speech" / "pretrain", weights)
    # --model named: the arm's own model is what is scored (without it, kerasdl ships the
    # baseline instead when that is better on validation).
    arms = {
        "YAMNet pretrained on FSDD (--weights FILE), default recipe": ["--model", "pretrained", "--backbone", "yamnet",
                                                                        "--weights", str(weights)],
        "YAMNet pretrained on FSDD, all layers (--fine-tune-layers -1, head_epochs=5)": [
            "--model", "pretrained", "--backbone", "yamnet", "--weights", str(weights), "--fine-tune-layers", "-1",
            "--set", "head_epochs=5"],
        "same network, random weights (--weights none)": ["--model", "pretrained", "--backbone", "yamnet",
                                                          "--weights", "none"],
        "default CNN (--model cnn)": ["--model", "cnn"],
    }
    rows, baseline = [], []
    for index, (arm, extra) in enumerate(arms.items()):
        accuracies, seconds = [], []
        for seed in args.seeds:
            m = train(words, f"arm{index}-seed{seed}", "--epochs", str(args.speech_epochs), "--seed", str(seed),
                      *extra)
            accuracy, per_epoch = own_result(WORK / "runs" / "speech" / f"arm{index}-seed{seed}", m, extra[1],
                                             args.speech_epochs)
            accuracies.append(accuracy)
            seconds.append(per_epoch)
            if index == 0:
                baseline += [b["test"]["accuracy"] for b in m.get("baselines", [])[:1]]
            print(f"{arm}, seed {seed}: {accuracies[-1]:.4f}", flush=True)
        rows.append([arm, mean_std(accuracies), f"{statistics.mean(seconds):.1f}"])
    rows.append(["classic baseline: log-mel statistics + logistic regression", mean_std(baseline), "-"])
    pre = json.loads((WORK / "runs" / "speech" / "pretrain" / "metrics.json").read_text())
    table = markdown_table(["model", "test accuracy % (3 seeds)", "s / epoch"], rows)
    write_result("transfer-speech", "Transfer learning for speech: YAMNet pretrained by kerasdl, fine-tuned on "
                 "new words", table, "python bench/transfer.py --speech",
                 f"Stand-in for the published AudioSet weights (none can be downloaded here): YAMNet's layers "
                 f"trained from random weights on FSDD (3,000 recordings of 10 digits at 16 kHz, "
                 f"{args.speech_pretrain_epochs} epochs, test accuracy {100 * pre['accuracy']:.1f} %), then "
                 f"fine-tuned for {args.speech_epochs} epochs on the Speech Commands sample: 30 words, 10 clips "
                 "each (its official validation and test lists: few test clips, so expect wide spreads). "
                 "Default recipe: the head alone on the frozen network for half the epochs, then the top 40 "
                 "layers at a tenth of the rate, batch normalization frozen.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speech-pretrain-epochs", type=int, default=15)
    parser.add_argument("--speech-epochs", type=int, default=20)


def latency(args: argparse.Namespace) -> None:
    """YAMNet with a 10-class head on 1 s clips at 16 kHz: training clips/s (head only,
    top 40 layers), float32 and dynamic TFLite sizes and latency."""
    import tempfile

    import keras
    import numpy as np

    from kerasdl.apps.speech.config import SpeechConfig
    from kerasdl.apps.speech.models import build_speech_model
    from kerasdl.export.benchmark import benchmark_models
    from kerasdl.export.tflite import convert
    config = SpeechConfig(backbone="yamnet", weights="imagenet")  # inference-mode batch norm, as fine-tuned
    model = build_speech_model("pretrained", 16000, 16000, 10, config)
    rng = np.random.default_rng(0)
    x = rng.integers(-3000, 3000, (64, 16000)).astype("int16")
    y = rng.integers(0, 10, 64)
    speeds = fine_tuning_speeds(model, config, x, y, 16)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for q in ("float32", "dynamic"):
            path = Path(folder) / f"yamnet-{q}.tflite"
            path.write_bytes(convert(model, q))
            timing = benchmark_models([str(path)], [2], runs=50)[0]
            rows.append(["yamnet", q, f"{model.count_params() / 1e6:.2f} M", f"{speeds[0]:.0f}", f"{speeds[1]:.0f}",
                         f"{path.stat().st_size / 1e6:.1f}", f"{timing['p50_ms']:.1f}"])
    table = markdown_table(["backbone", "TFLite", "parameters", "training clips/s, head only",
                            "training clips/s, top 40 layers", "MB", "p50 ms per 1 s clip (2 threads)"], rows)
    write_result("transfer-speech-latency", "YAMNet on 2 CPU cores: training speed, TFLite size and latency", table,
                 "python bench/transfer.py --speech --latency",
                 "Random weights (speed and size do not depend on the values), 1 s clips at 16 kHz, batch 16.")
    keras.backend.clear_session()
