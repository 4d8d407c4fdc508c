"""The Examples sections of the package's docstrings run, and give what they show.

Docstring examples are documentation a notebook user copies; one that raises is a defect
(``EdgeHistogram``'s example passed 1-D arrays long after ``update`` required 2-D maps).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import napari_srmat

MODULES = sorted(["napari_srmat"]  # the package's own docstring: the notebook example
                 + [m.name for m in pkgutil.walk_packages(napari_srmat.__path__,
                                                          prefix="napari_srmat.")
                    if not m.name.startswith("napari_srmat.widgets")  # Qt: the GUI tests
                    and not m.name.endswith("__main__")])  # importing it runs the CLI


def test_every_core_module_is_collected():
    # the walk must see the core library, or the parametrised test below checks nothing
    for name in ("napari_srmat", "napari_srmat.io._float", "napari_srmat.metrics.heyn",
                 "napari_srmat.edges.thresholds", "napari_srmat.grainsize"):
        assert name in MODULES


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, module_name):
        if test.examples:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module_name} failed"
