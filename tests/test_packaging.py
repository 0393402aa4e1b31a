"""The distribution ships every package and every bundled sample file, so a
non-editable install has them all; a new app's folder needs no packaging edit."""

import importlib.util
import os
import tomllib
from glob import glob
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_found() -> None:
    spec = importlib.util.spec_from_file_location("kerasdl_setup", ROOT / "setup.py")
    setup = importlib.util.module_from_spec(spec)
    cwd = os.getcwd()
    os.chdir(ROOT)  # setup.py finds packages relative to the project, as setuptools runs it
    try:
        spec.loader.exec_module(setup)
        listed = set(setup.packages())
    finally:
        os.chdir(cwd)
    found = set()
    for top, name in (("kerasdl", "kerasdl"), ("apps", "kerasdl.apps"),
                      ("tflite/kerasdl_edge", "kerasdl_edge")):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *parts)))
    assert found == listed
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"]["kerasdl.apps"] == "apps" and "packages" not in config


# What a virtual environment on Raspberry Pi OS bookworm has to build with, offline:
# its bundled setuptools and Debian's wheel package.
DEVICE_BUILD_TOOLS = {"setuptools": "66.1.1", "wheel": "0.38.4"}


def test_the_edge_package_builds_with_the_setuptools_a_raspberry_pi_has() -> None:
    from packaging.requirements import Requirement

    requires = tomllib.loads((ROOT / "tflite" / "pyproject.toml").read_text())["build-system"]["requires"]
    for text in requires:
        requirement = Requirement(text)
        assert requirement.specifier.contains(DEVICE_BUILD_TOOLS[requirement.name]), text
    readme = (ROOT / "tflite" / "README.md").read_text()
    # Raspberry Pi OS refuses pip outside a virtual environment (PEP 668).
    assert readme.index("python3 -m venv") < readme.index('pip install "./tflite[images]"')


def test_every_bundled_sample_file_is_package_data() -> None:
    """A sample file no glob lists would be missing from a non-editable install. The
    rules apply to every package (setuptools globs them recursively in each)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    samples = [p for p in (ROOT / "apps").glob("*/sample*") if p.is_dir()]
    assert len(samples) >= 5
    for sample in samples:
        shipped = {Path(f) for pattern in patterns for f in glob(str(sample.parent / pattern), recursive=True)}
        for path in sample.rglob("*"):
            if path.is_file():
                assert path in shipped, path.relative_to(ROOT)
