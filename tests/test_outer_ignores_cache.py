""":func:`napari_srmat._warnings_state.outer_ignores` (whether the filters before the
holders ignore a warning the widgets' router tells outside the jobs) answers a warning
it matched already from a bounded cache, asked anew once those filters change."""

from __future__ import annotations

import warnings

import pytest

from napari_srmat import _warnings_state


class CountingPattern:
    """A filter's message pattern that matches nothing and counts how often it is tried
    (the matching work :func:`outer_ignores` does)."""

    def __init__(self) -> None:
        self.tried = 0

    def match(self, text: str) -> None:
        self.tried += 1


@pytest.fixture
def clean_filters():
    """No filters, Python's default action, nobody holding the state; all put back."""
    assert _warnings_state._state.holders == 0
    with warnings.catch_warnings():
        warnings.resetwarnings()
        yield
    assert _warnings_state._state.holders == 0


def _asks(text: str = "the scale is a guess", lineno: int = 10) -> bool:
    return _warnings_state.outer_ignores(UserWarning, text, "napari_srmat.io", lineno)


def test_a_warning_matched_already_is_answered_without_matching_again(clean_filters):
    """Matching the filters was most of a GUI-thread warning's cost while jobs ran
    (2.6 of the router's microseconds): the same warning, at the same place, again and
    again (a slider's) matched them each time. Failed before: tried twice."""
    pattern = CountingPattern()
    warnings.filters.insert(0, ("ignore", pattern, UserWarning, None, 0))
    _warnings_state.hold()
    try:
        assert _asks() is False
        assert _asks() is False
        assert pattern.tried == 1
        assert _asks(lineno=11) is False  # another place: matched
        assert pattern.tried == 2
    finally:
        _warnings_state.release()


def test_a_filter_added_after_an_answer_changes_it(clean_filters):
    """The answer follows the filters before the holders: ignored once a filter saved by
    a later first hold says so, or one taken by :func:`outer_put_back`; not ignored
    once those filters go again."""
    _warnings_state.hold()
    try:
        assert _asks() is False
    finally:
        _warnings_state.release()
    warnings.filterwarnings("ignore", message="the scale")
    _warnings_state.hold()
    try:
        assert _asks() is True
    finally:
        _warnings_state.release()
    warnings.resetwarnings()
    _warnings_state.hold()
    try:
        assert _asks() is False
        # another plugin's worker's end: the filters now are taken as those before
        relay = _warnings_state._state.outer_showwarning
        warnings.filterwarnings("ignore", message="the scale")
        assert _warnings_state.outer_put_back(relay, unless=lambda shown: False)
        assert _asks() is True
    finally:
        _warnings_state.release()


def test_the_default_action_changes_the_answer(clean_filters, monkeypatch):
    _warnings_state.hold()
    try:
        assert _asks() is False
        monkeypatch.setattr(warnings, "defaultaction", "ignore")
        assert _asks() is True
    finally:
        _warnings_state.release()


def test_the_cache_is_bounded(clean_filters):
    """Warnings whose text names a tile or chunk each: at most
    :data:`~napari_srmat._warnings_state.OUTER_IGNORES_CACHED` answers kept."""
    _warnings_state.hold()
    try:
        for i in range(_warnings_state.OUTER_IGNORES_CACHED + 50):
            _asks(f"chunk {i} is out of range")
        assert _warnings_state._outer_action.cache_info().currsize <= (
            _warnings_state.OUTER_IGNORES_CACHED)
    finally:
        _warnings_state.release()


def test_a_long_text_is_not_kept(clean_filters):
    """The kept answers held their warnings' texts: a text with an array's repr in it
    (a megabyte) was kept, up to OUTER_IGNORES_CACHED of them. Failed before: kept (1
    answer). Matched each time now, with the same answer."""
    long_text = "the values " + "0.123456 " * 120_000
    _warnings_state._outer_action.cache_clear()
    warnings.filterwarnings("ignore", message="the values")
    _warnings_state.hold()
    try:
        assert _asks(long_text) is True and _asks(long_text) is True
        assert _warnings_state._outer_action.cache_info().currsize == 0
        assert _asks("the values 1") is True  # a short one is kept
        assert _warnings_state._outer_action.cache_info().currsize == 1
    finally:
        _warnings_state.release()


def test_the_answers_go_at_the_last_release(clean_filters):
    """The answers kept under filters saved by a first hold are never asked again once
    the last holder has released (the next first hold saves a new copy): they held
    their texts and that copy until 1024 later warnings pushed them out. Failed before:
    still kept after the release."""
    _warnings_state.hold()
    _warnings_state.hold()
    try:
        _asks()
    finally:
        _warnings_state.release()
    try:
        assert _warnings_state._outer_action.cache_info().currsize == 1  # one holds still
    finally:
        _warnings_state.release()
    assert _warnings_state._outer_action.cache_info().currsize == 0


def test_a_long_warning_text_is_kept_by_its_digest_in_both_tables(monkeypatch):
    """The widgets' router kept each text shown once outside the jobs whole (up to
    :data:`SHOWN_OUTSIDE_LIMIT` of them, an array's repr a megabyte each), though
    7430df0 kept no such text in :func:`outer_ignores`' answers. One rule keeps both
    now (:func:`kept_text`): a long one by its digest, still told once. Failed before:
    the router's table held the 2 MB texts."""
    pytest.importorskip("napari")
    import napari_srmat.widgets._worker as worker_mod

    monkeypatch.setattr(worker_mod, "_RUNNING", [1])
    monkeypatch.setattr(worker_mod, "_SHOWN_OUTSIDE", {})
    long_text = "x" * 2_000_000
    other = long_text[:-1] + "y"  # the same length and start: another warning
    assert worker_mod._shown_once(UserWarning, long_text) is True
    assert worker_mod._shown_once(UserWarning, long_text) is False
    assert worker_mod._shown_once(UserWarning, other) is True
    assert worker_mod._shown_once(UserWarning, "short") is True
    kept = [text for _, text in worker_mod._SHOWN_OUTSIDE]
    assert all(len(text) <= _warnings_state.WARNING_TEXT_KEPT for text in kept), \
        [len(text) for text in kept]
    assert "short" in kept


def test_the_answers_of_replaced_filters_are_dropped(clean_filters):
    """:func:`outer_put_back` saves a new copy of the filters; the answers kept under the
    copy it replaced are never served again (keyed by that copy) and are dropped at
    once, as the last release drops them. Failed before: they stayed (1 kept) until 1024
    other warnings pushed them out."""
    _warnings_state.hold()
    try:
        assert _asks() is False
        assert _warnings_state._outer_action.cache_info().currsize == 1
        relay = _warnings_state._state.outer_showwarning
        assert _warnings_state.outer_put_back(relay, unless=lambda shown: False)
        assert _warnings_state._outer_action.cache_info().currsize == 0
        assert _asks() is False
    finally:
        _warnings_state.release()
    assert _warnings_state._outer_action.cache_info().currsize == 0
