"""pyproject lists every package, so a non-editable install ships them all."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for top, name in (("kerasdl", "kerasdl"), ("apps", "kerasdl.apps"),
                      ("tflite/kerasdl_edge", "kerasdl_edge")):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *parts)))
    assert found == listed
    assert config["package-dir"]["kerasdl.apps"] == "apps"


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
    """A sample file no glob lists would be missing from a non-editable install."""
    from fnmatch import fnmatch

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for sample in (p for p in (ROOT / "apps").glob("*/sample*") if p.is_dir()):
        patterns = data[f"kerasdl.apps.{sample.parent.name}"]
        for path in sample.rglob("*"):
            if path.is_file():
                relative = path.relative_to(sample.parent).as_posix()
                assert any(fnmatch(relative, p) for p in patterns), relative
