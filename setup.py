"""The package list, found rather than written out: pyproject.toml maps apps/ to
kerasdl.apps (and tflite/kerasdl_edge to kerasdl_edge), which setuptools' automatic
discovery cannot follow. A new app's folder under apps/ is found here with no edit."""

from setuptools import find_packages, setup


def mapped(package: str, folder: str) -> list[str]:
    """`package` (installed from `folder`) and its sub-packages."""
    return [package, *(f"{package}.{sub}" for sub in find_packages(folder))]


def packages() -> list[str]:
    """Every package the distribution ships."""
    return [*find_packages(include=["kerasdl", "kerasdl.*"]), *mapped("kerasdl.apps", "apps"),
            *mapped("kerasdl_edge", "tflite/kerasdl_edge")]


if __name__ == "__main__":  # as setuptools runs it; tests import `packages`
    setup(packages=packages())
