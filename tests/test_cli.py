"""The CLI end to end on tiny generated data, through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kerasdl.cli import cli
from kerasdl.registry import app_names

TINY = ["--preset", "tiny", "--epochs", "3", "--batch-size", "16"]


def invoke(*args: str) -> "object":
    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result, message: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [l for l in result.output.strip().splitlines() if l.startswith("Error")]
    assert len(lines) == 1 and message in lines[0], result.output


def test_import_keeps_tensorflow_out(tmp_path: Path) -> None:
    code = "import sys, kerasdl.cli; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("command", [[], ["apps"], ["train"], ["evaluate"], ["predict"],
                                     ["export"], ["optimize"], ["benchmark"], ["tune"], ["generate"], ["serve"],
                                     ["compare"]])
def test_every_command_has_help(command: list[str]) -> None:
    for flag in ("-h", "--help"):
        result = invoke(*command, flag)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_apps_lists_vision_and_models() -> None:
    result = invoke("apps")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == app_names()
    assert "--model mobilenet" in result.output and "--model nbsvm" in result.output
    assert "--model ds-cnn" in result.output


def test_unknown_app() -> None:
    result = invoke("train", "sound")
    assert result.exit_code == 2
    assert "Unknown app 'sound'. Available apps: dcgan, forecast, sentiment, speech, vision." in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be a positive integer. Received: epochs=0"),
        (["--model", "vgg99"], "--model must be one of mlp, lenet, cnn, resnet, mobilenet"),
        (["--set", "image_size"], "--set takes KEY=VALUE"),
        (["--set", "colour=red"], "Unknown config key 'colour'"),
        (["--dataset", "no/such/folder"], "No such folder"),
        (["--preset", "huge"], "Unknown preset 'huge'"),
    ],
)
def test_bad_options_give_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("train", "vision", "--runs-dir", str(tmp_path), *args)
    assert_one_line_error(result, message)
    assert not list((tmp_path).glob("vision/*")), "a failed start must leave no run folder"


@pytest.mark.parametrize("app, option", [("forecast", ["--activation", "gelu"]), ("forecast", ["--teacher", "r"]),
                                         ("sentiment", ["--norm", "layer"])])
def test_an_option_the_app_lacks_says_so(tmp_path: Path, app: str, option: list[str]) -> None:
    result = invoke("train", app, "--runs-dir", str(tmp_path), *option)
    assert_one_line_error(result, f"{option[0]} does not apply to the {app} app.")


def test_train_evaluate_predict(tmp_path: Path, colour_folder: Path) -> None:
    runs = tmp_path / "runs"
    result = invoke("train", "vision", "--dataset", str(colour_folder), *TINY,
                    "--runs-dir", str(runs), "--name", "t1", "--optimizer", "adam",
                    "--lr", "0.01", "--schedule", "warmup-cosine", "--augment")
    assert result.exit_code == 0, result.output
    run = runs / "vision" / "t1"
    for name in ["run.json", "config.toml", "labels.txt", "history.csv", "metrics.json",
                 "checkpoints/best.keras", "checkpoints/last.keras",
                 "plots/history.png", "plots/confusion_matrix.png"]:
        assert (run / name).is_file(), name
    assert any((run / "logs").rglob("events.out.tfevents*"))
    assert not list((run / "checkpoints").glob("epoch-*")), "rolling checkpoints are tidied"
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "completed" and meta["epochs_completed"] == 3
    assert meta["data"]["class_names"] == ["blue", "green", "red"]
    history = (run / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and len(history) == 4
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "validation"  # the folder has no test split
    assert metrics["accuracy"] > 0.6, metrics  # chance is 1/3
    assert "accuracy:" in result.output and "Run saved to" in result.output

    result = invoke("evaluate", str(run), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(metrics["accuracy"])

    red = colour_folder / "red" / "000.png"
    result = invoke("predict", str(run), str(red), "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.splitlines()[0])
    assert row["label"] == "red" and len(row["top"]) == 3

    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    assert_one_line_error(invoke("predict", str(run), str(junk)), "Cannot read image")
    assert_one_line_error(invoke("predict", str(run), str(tmp_path / "none.png")), "Image file not found")
    assert_one_line_error(invoke("evaluate", str(tmp_path)), "is not a kerasdl run directory")
    other = tmp_path / "other"
    for name in ("cat", "dog"):
        (other / name).mkdir(parents=True)
        (other / name / "a.png").write_bytes((colour_folder / "red" / "000.png").read_bytes())
        (other / name / "b.png").write_bytes((colour_folder / "red" / "001.png").read_bytes())
    assert_one_line_error(invoke("evaluate", str(run), "--dataset", str(other)),
                          "The data's class names ['cat', 'dog'] differ")

    result = invoke("train", "vision", "--runs-dir", str(runs), "--name", "t1", "--resume")
    assert_one_line_error(result, "already completed")
    result = invoke("train", "vision", "--runs-dir", str(runs), "--name", "t1")
    assert_one_line_error(result, "already exists")


def test_config_file_and_models(tmp_path: Path, idx_folder: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('model = "mobilenet"\nepochs = 1\nwidth = 4\nbatch_size = 32\n')
    result = invoke("train", "vision", "--dataset", str(idx_folder), "--config", str(config),
                    "--runs-dir", str(tmp_path), "--name", "m", "--set", "image_size=16",
                    "--optimizer", "nesterov", "--lr", "0.05", "--schedule", "one-cycle",
                    "--weight-decay", "0.0001", "--label-smoothing", "0.1")
    assert result.exit_code == 0, result.output
    saved = (tmp_path / "vision" / "m" / "config.toml").read_text()
    assert 'model = "mobilenet"' in saved and "image_size = 16" in saved
    assert 'optimizer = "nesterov"' in saved and "label_smoothing = 0.1" in saved


def test_tensorflow_start_up_noise_stays_out_unless_verbose(trained_run: Path, tmp_path: Path) -> None:
    # Run as a user does: a new process whose standard error is the terminal's (outside
    # the source tree, whose kerasdl/ would shadow the installed package for `-m`).
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-m", "kerasdl.cli", "evaluate", str(trained_run)],
                           capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "accuracy" in quiet.stdout
    for noise in ("cuInit", "absl::InitializeLog", "cudart_stub", "oneDNN", "cpu_feature_guard"):
        assert noise not in quiet.stderr, quiet.stderr
    verbose = subprocess.run([sys.executable, "-m", "kerasdl.cli", "-v", "evaluate", str(trained_run)],
                             capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert verbose.returncode == 0 and "absl::InitializeLog" in verbose.stderr, verbose.stderr


def test_native_noise_pattern_keeps_real_messages() -> None:
    from kerasdl.runtime import NATIVE_NOISE as _NATIVE_NOISE

    noise = ["WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
             "E0000 00:00:1795956061.954469    3132 cuda_platform.cc:52] failed call to cuInit: INTERNAL",
             "I0000 00:00:1795956058.701502    3132 cudart_stub.cc:31] Could not find cuda drivers",
             "I0000 00:00:1795956058.701192    3132 port.cc:153] oneDNN custom operations are on."]
    real = ["E0000 00:00:1795956061.954469    3132 saved_model_loader.cc:10] Cannot read the model",
            "Traceback (most recent call last):", "ImportError: libcudnn.so.9: cannot open shared object"]
    assert all(_NATIVE_NOISE.match(line) for line in noise)
    assert not any(_NATIVE_NOISE.match(line) for line in real)


def test_library_settings_are_worded_as_the_command_s_options() -> None:
    # The library names settings as Python does; the CLI as its options.
    import click

    from kerasdl.cli import cli, flag_wording

    message = ("Lower `learning_rate=0.01`, pass `image_size=N`, check `batch_size`, "
               "`objective` and `kerasdl export`.")
    with click.Context(cli.commands["train"]):
        assert flag_wording(message) == ("Lower --lr 0.01, pass --set image_size=N, check --batch-size, "
                                         "`objective` and `kerasdl export`.")
    with click.Context(cli.commands["tune"]):
        assert "--objective" in flag_wording(message)
    assert flag_wording(message) == message  # outside a command: unchanged


@pytest.mark.parametrize("args, message", [
    (["train", "vision", "--resume", "--epochs", "2"],
     "--resume continues with the run's saved config: give no other options."),
    (["train", "vision", "--resume", "--set", "image_size=24"],
     "--resume continues with the run's saved config: give no other options."),
    (["tune", "vision", "--resume", "--fix", "model"],
     "--resume continues with the search's saved config and space: give no config options or --fix."),
    (["compare", "vision", "--resume", "--preset", "tiny"],
     "--resume continues with the comparison's saved config and variants: give no config options or --vary."),
])
def test_resume_refuses_new_config_values_in_every_command(tmp_path: Path, args: list[str], message: str) -> None:
    # One library check (kerasdl.settings.check_resume), worded as each command's options.
    result = invoke(*args, "--runs-dir", str(tmp_path))
    assert_one_line_error(result, message)
    assert not any(tmp_path.rglob("run.json"))


@pytest.mark.parametrize("threads, message", [("a,2", "--threads takes integers like 1,2"),
                                              ("0", "--threads takes positive integers")])
def test_benchmark_refuses_bad_thread_counts_before_loading_anything(tmp_path: Path, threads: str,
                                                                     message: str) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(b"not read")
    result = invoke("benchmark", str(model), "--threads", threads)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
