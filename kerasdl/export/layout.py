"""Where exports go, and TF Serving's model config.

    saved_models/
      models.config                 TF Serving's model_config_list for every model here
      <name>/<version>/             a SavedModel (TF Serving's layout)
      tflite/<name>-<version>-<quantization>.tflite
      tflite/<name>-<version>-check.json

A version is an increasing integer shared by the SavedModel and the TFLite files of one
export. SavedModels are written under a hidden temporary name and renamed when
complete, so TF Serving never sees half a version.
"""

from __future__ import annotations

import re
from pathlib import Path

from kerasdl import io as kio
from kerasdl.errors import KerasdlError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_TFLITE = re.compile(r"^(?P<name>.+)-(?P<version>\d+)-[a-z0-9]+\.tflite$")


def check_model_name(name: str) -> str:
    if not _NAME.match(name):
        raise KerasdlError(
            f"Model name '{name}' must be letters, digits, '_' or '-' (TF Serving's rule)."
        )
    return name


# `scheme:rest` as the data loaders write a source (idx:/data/mnist, folder:..., csv:...);
# two letters at least, so a Windows drive (C:\data) is a path, not a scheme.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_+-]+):(?P<rest>.*)$", re.S)


def exported_data_name(source: str) -> str:
    """The training data's name as exported files carry it: a tfds name as it is, a
    folder or file reduced to its last part, any `scheme:` prefix kept.

    An absolute path names the trainer's machine, user and folders; an export is shipped
    to devices and servers, so it names the data only. The run folder (run.json) keeps
    the full path.

    Example:
    >>> exported_data_name("idx:/home/ana/data/sample/")
    'idx:sample'
    >>> exported_data_name("tfds:mnist")
    'tfds:mnist'
    """
    match = _SCHEME.match(source)
    scheme, rest = (match.group("scheme") + ":", match.group("rest")) if match else ("", source)
    if scheme == "tfds:" or rest.startswith("//"):  # a catalogue name or a URL: not the machine's folders
        return source
    name = re.split(r"[\\/]", rest.rstrip("/\\"))[-1]
    return scheme + (name or rest)


def next_version(root: Path, name: str) -> int:
    """One more than the newest SavedModel or TFLite version of `name` under `root`."""
    versions = [0]
    model_dir = root / name
    if model_dir.is_dir():
        versions += [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()]
    tflite_dir = root / "tflite"
    if tflite_dir.is_dir():
        for p in tflite_dir.glob(f"{name}-*.tflite"):
            m = _TFLITE.match(p.name)
            if m and m.group("name") == name:
                versions.append(int(m.group("version")))
    return max(versions) + 1


def latest_saved_model(root: Path, name: str) -> Path | None:
    """The newest SavedModel version of `name` under `root`: the one TF Serving serves."""
    model_dir = root / name
    if not model_dir.is_dir():
        return None
    versions = [p for p in model_dir.iterdir()
                if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file()]
    return max(versions, key=lambda p: int(p.name), default=None)


def tflite_path(root: Path, name: str, version: int, quantization: str) -> Path:
    return root / "tflite" / f"{name}-{version}-{quantization}.tflite"


def write_models_config(root: Path, container_root: str = "/models") -> Path:
    """Writes TF Serving's `models.config` listing every SavedModel under `root`.

    Base paths point into `container_root`, where the usual Docker command mounts
    `root` (see the README); TF Serving serves the newest version of each model.
    """
    entries = []
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if any(v.is_dir() and v.name.isdigit() for v in model_dir.iterdir()):
            entries.append(
                "  config {\n"
                f'    name: "{model_dir.name}"\n'
                f'    base_path: "{container_root}/{model_dir.name}"\n'
                '    model_platform: "tensorflow"\n'
                "  }\n"
            )
    path = root / "models.config"
    kio.write_text(path, "model_config_list {\n" + "".join(entries) + "}\n")
    return path
