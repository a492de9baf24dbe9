"""The stream filter: never "absent" for a stream it was told of, rarely "maybe" for one it was not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from events import streamfilter
from events.streamfilter import StreamFilter


@given(st.sets(st.text(min_size=1, max_size=40), max_size=200))
def test_every_stream_added_is_maybe_present(ids: set[str]) -> None:
    f = StreamFilter(ids)
    assert all(i in f for i in ids)


def test_it_grows_past_its_first_size_and_still_knows_every_stream(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(streamfilter, "FIRST_BITS", 1 << 12)  # room for 256 ids before a second filter
    ids = [f"hold:t{i:06d}" for i in range(3000)]
    f = StreamFilter(ids)
    assert f.nbytes > (1 << 12) // 8  # it grew
    assert all(i in f for i in ids)
    absent = [f"answer:v{i}/r{i}" for i in range(20_000)]
    assert sum(a in f for a in absent) < 20_000 * 0.02  # "maybe" for an absent id stays rare as it grows


def test_sized_for_the_streams_expected() -> None:
    assert StreamFilter(expected=1_000_000).nbytes >= 1_000_000 * streamfilter.BITS_PER_ID // 8
