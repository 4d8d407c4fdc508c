"""``measure_intercepts``' docstring examples run in an empty namespace (a notebook
after ``import napari_srmat``): they import what they use (s51 H1 #3)."""

from __future__ import annotations

import doctest


def test_measure_intercepts_examples_run_in_a_notebook_namespace():
    """Its first example called ``measure_intercepts`` unimported: NameError, 5 of its
    12 examples failed. Failed before."""
    from napari_srmat.metrics import heyn

    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(heyn.measure_intercepts, "measure_intercepts", module=heyn, globs={})
    assert [t.name for t in tests if t.examples] == ["measure_intercepts"]
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
