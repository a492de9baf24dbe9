"""The per-point window index answers "what overlaps?" exactly as a scan of every window would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from servers.bookings.windows import PointWindows

WINDOW = st.tuples(st.integers(0, 200), st.integers(1, 40)).map(lambda w: (float(w[0]), float(w[0] + w[1])))


@given(windows=st.lists(WINDOW, max_size=40), removed=st.sets(st.integers(0, 39)), query=WINDOW)
def test_overlapping_windows_are_found_as_by_a_full_scan(windows, removed, query):
    index = PointWindows()
    kept: dict[str, tuple[float, float]] = {}
    for i, (start, end) in enumerate(windows):
        index.add(start, end, f"t{i}#0")
        kept[f"t{i}#0"] = (start, end)
    for i in removed:
        if f"t{i}#0" in kept:
            index.remove(*kept.pop(f"t{i}#0"), f"t{i}#0")
    start, end = query
    expected = sorted(k for k, (s, e) in kept.items() if s < end and start < e)
    assert sorted(index.overlapping(start, end)) == expected
    assert index.any_overlapping(start, end) == bool(expected)
    assert len(index) == len(kept)


def test_windows_that_only_touch_do_not_overlap():
    index = PointWindows()
    index.add(10.0, 20.0, "a#0")
    assert index.overlapping(20.0, 30.0) == [] and index.overlapping(0.0, 10.0) == []
    assert index.overlapping(19.0, 21.0) == ["a#0"]
