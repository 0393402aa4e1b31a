"""Every runnable example in the library's docstrings runs and shows what it says
(keras-hub's style: examples are documentation that cannot go stale). Examples that
need data, a trained run or a server are marked `# doctest: +SKIP` where they stand."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kerasdl
import kerasdl.apps
import kerasdl_edge

# kerasdl.apps is named too: an editable install maps it from apps/, outside kerasdl/.
MODULES = sorted({
    info.name for package in (kerasdl, kerasdl.apps, kerasdl_edge)
    for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")
    # The `python -m` entry points and the generated flatbuffers code hold no examples.
    if not info.name.endswith(("__main__", "_generated"))
})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
