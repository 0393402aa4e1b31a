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
