"""The EventStore contract, run against SqliteEventStore, InMemoryEventStore and PostgresEventStore alike."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from events.chain import GENESIS_HASH, Row, build_rows
from events.errors import ConcurrencyError, LogMoved
from events.model import ANY_VERSION, NO_STREAM, StreamAppend
from events.store import EventStore
from tests.events.helpers import ev


def test_a_new_log_is_empty_and_intact(store: EventStore) -> None:
    assert store.head() == 0
    assert store.read_all() == []
    assert store.stream_version("account:1") == NO_STREAM
    report = store.verify()
    assert report.ok and report.checked == 0 and report.first_bad_seq is None


def test_appends_get_gapless_seqs_and_per_stream_versions(store: EventStore) -> None:
    store.append("account:1", [ev("AccountOpened", owner="ana"), ev("Credited", amount=5)])
    store.append("account:2", [ev("AccountOpened", owner="bo")])
    store.append("account:1", [ev("Debited", amount=2)])
    events = store.read_all()
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [(e.stream_id, e.version) for e in events] == [
        ("account:1", 1), ("account:1", 2), ("account:2", 1), ("account:1", 3)]
    assert store.head() == 4
    assert store.stream_version("account:1") == 3
    assert store.stream_version("account:2") == 1
    assert sorted(store.stream_ids()) == ["account:1", "account:2"]  # once each


def test_append_returns_exactly_what_a_read_returns(store: EventStore) -> None:
    returned = store.append("s:1", [ev("Happened", n=1), ev("Happened", n=2)])
    assert store.read_all() == returned


def test_data_round_trips_unicode_nesting_and_numbers(store: EventStore) -> None:
    data = {"cidade": "São Luís", "paradas": [{"km": 12.5, "ok": True}], "nada": None, "n": -3}
    store.append("trip:1", [ev("TripPlanned", **data)])
    assert store.read_all()[0].data == data


def test_text_of_every_kind_is_stored_exactly_as_hashed(store: EventStore) -> None:
    """Quotes, backslashes, control characters, astral-plane characters, big and float numbers: what is read back
    is what was written, and the chain (hashed over the written text) still verifies."""
    data = {"q": 'aspas "duplas" e \\ barra', "ctl": "\x00\x01\t\n\x1f\x7f", "emoji": "🚗⚡", "sep": "\u2028",
            "big": 2**62, "f": 0.1 + 0.2, "neg": -1e-300, "deep": [[[{"k": ["v"]}]]]}
    store.append('vehicle:"ç"\\x', [ev("Odd", **data), ev("Odd", **data)])
    events = store.read_all()
    assert [e.data for e in events] == [data, data] and events[0].stream_id == 'vehicle:"ç"\\x'
    assert store.verify().ok


def test_recorded_at_is_aware_utc_and_never_goes_backwards(store: EventStore) -> None:
    before = datetime.now(UTC)
    for i in range(5):
        store.append(f"s:{i}", [ev("Happened")])
    times = [e.recorded_at for e in store.read_all()]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)
    assert times == sorted(times)
    assert times[0] >= before - timedelta(seconds=1)


def test_a_stale_expected_version_raises_and_writes_nothing(store: EventStore) -> None:
    store.append("account:1", [ev("AccountOpened")], NO_STREAM)
    with pytest.raises(ConcurrencyError) as caught:
        store.append("account:1", [ev("Credited", amount=1)], NO_STREAM)
    assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == ("account:1", 0, 1)
    assert store.head() == 1
    assert store.stream_version("account:1") == 1


def test_the_right_expected_version_appends(store: EventStore) -> None:
    store.append("account:1", [ev("AccountOpened")], NO_STREAM)
    recorded = store.append("account:1", [ev("Credited", amount=1)], 1)
    assert recorded[0].version == 2


def test_any_version_appends_whatever_the_stream_holds(store: EventStore) -> None:
    store.append("s:1", [ev("A")])
    store.append("s:1", [ev("B")], ANY_VERSION)
    assert store.stream_version("s:1") == 2


def test_a_multi_stream_append_with_one_stale_part_writes_nothing(store: EventStore) -> None:
    store.append("account:1", [ev("AccountOpened")])
    with pytest.raises(ConcurrencyError):
        store.append_streams([
            StreamAppend("trip:1", (ev("TripDecided"),), NO_STREAM),
            StreamAppend("account:1", (ev("Debited", amount=3),), NO_STREAM),  # stale: it is at 1
        ])
    assert store.head() == 1
    assert store.stream_version("trip:1") == 0
    assert store.verify().ok


def test_a_multi_stream_append_is_one_contiguous_range(store: EventStore) -> None:
    recorded = store.append_streams([
        StreamAppend("trip:1", (ev("TripDecided"), ev("HoldPlaced")), NO_STREAM),
        StreamAppend("account:1", (ev("Debited", amount=3),)),
    ])
    assert [e.seq for e in recorded] == [1, 2, 3]
    assert [(e.stream_id, e.version) for e in recorded] == [("trip:1", 1), ("trip:1", 2), ("account:1", 1)]
    assert len({e.recorded_at for e in recorded}) == 1  # one transaction, one time


def test_a_stream_named_twice_in_one_append_continues_its_versions(store: EventStore) -> None:
    recorded = store.append_streams([StreamAppend("s:1", (ev("A"),), NO_STREAM),
                                     StreamAppend("s:1", (ev("B"),), 1)])
    assert [e.version for e in recorded] == [1, 2]


def test_an_empty_append_writes_nothing(store: EventStore) -> None:
    assert store.append("s:1", []) == []
    assert store.append_streams([]) == []
    assert store.head() == 0


def test_the_pull_feed_pages_through_with_after_and_limit(store: EventStore) -> None:
    for i in range(7):
        store.append(f"s:{i % 3}", [ev("Happened", i=i)])
    pages, after = [], 0
    while page := store.read_all(after, 3):
        pages.append([e.seq for e in page])
        after = page[-1].seq
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]


def test_reads_filter_by_type_stream_and_seq_range(store: EventStore) -> None:
    store.append("account:1", [ev("AccountOpened"), ev("Credited", amount=1), ev("Debited", amount=1)])
    store.append("account:2", [ev("AccountOpened"), ev("Credited", amount=2)])
    assert [e.seq for e in store.read_all(types=["Credited"])] == [2, 5]
    assert [e.seq for e in store.read_all(types=["Credited", "Debited"])] == [2, 3, 5]
    assert [e.seq for e in store.read_all(stream_id="account:2")] == [4, 5]
    assert [e.seq for e in store.read_all(after=1, until_seq=3)] == [2, 3]
    assert [e.seq for e in store.read_all(types=["AccountOpened"], stream_id="account:2")] == [4]
    assert [e.seq for e in store.read_all(types=["Credited"], limit=1)] == [2]


def test_reads_filter_by_time_with_inclusive_bounds(store: EventStore) -> None:
    store.append("s:1", [ev("A")])
    store.append("s:1", [ev("B")])
    store.append("s:1", [ev("C")])
    first, second, third = store.read_all()
    assert [e.seq for e in store.read_all(since=second.recorded_at)] == [
        e.seq for e in (first, second, third) if e.recorded_at >= second.recorded_at]
    assert [e.seq for e in store.read_all(until_time=first.recorded_at)] == [
        e.seq for e in (first, second, third) if e.recorded_at <= first.recorded_at]
    assert store.read_all(since=third.recorded_at + timedelta(seconds=1)) == []
    assert store.read_all(until_time=first.recorded_at - timedelta(seconds=1)) == []


def test_read_stream_returns_one_stream_after_a_version(store: EventStore) -> None:
    store.append("s:1", [ev("A"), ev("B")])
    store.append("s:2", [ev("X")])
    store.append("s:1", [ev("C")])
    assert [e.type for e in store.read_stream("s:1")] == ["A", "B", "C"]
    assert [e.type for e in store.read_stream("s:1", after_version=2)] == ["C"]
    assert store.read_stream("s:9") == []


def test_iter_all_streams_every_event_across_small_batches(store: EventStore) -> None:
    for i in range(10):
        store.append("s:1", [ev("Happened", i=i)])
    assert [e.seq for e in store.iter_all(batch=3)] == list(range(1, 11))
    assert [e.seq for e in store.iter_all(after=4, until_seq=8, batch=3)] == [5, 6, 7, 8]


def test_meta_values_are_set_read_and_overwritten(store: EventStore) -> None:
    assert store.get_meta("fold") is None
    store.set_meta("fold", "events.examples:LEDGER")
    store.set_meta("fold", "events.examples:GENERIC")
    assert store.get_meta("fold") == "events.examples:GENERIC"
    assert store.get_meta("schema_version") == "1"


def test_hashes_follow_the_documented_chain_formula(store: EventStore) -> None:
    store.append("s:1", [ev("A", x="é"), ev("B", b=2, a=1)])
    prev = "0" * 64
    for e in store.read_all():
        when = e.recorded_at.isoformat(timespec="microseconds")
        fields = [e.seq, e.stream_id, e.version, e.type, when, e.data]
        body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev_expected = hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
        assert e.hash == prev_expected
        prev = e.hash


def test_verify_accepts_an_untouched_log_and_counts_it(store: EventStore) -> None:
    for i in range(12):
        store.append_streams([StreamAppend(f"s:{i % 4}", (ev("A"), ev("B")))])
    report = store.verify()
    assert (report.ok, report.checked, report.first_bad_seq) == (True, 24, None)


def _rows_on_head(store: EventStore, *appends: StreamAppend) -> list[Row]:
    """Rows built the engine's way: on the log's last row, versions read from the store."""
    last = store.last_row()
    head = (last.seq, last.hash, last.recorded_at) if last else (0, GENESIS_HASH, "")
    return build_rows(appends, *head, store.stream_version, datetime.now(UTC))


def test_rows_built_on_the_head_are_written_and_read_back_as_built(store: EventStore) -> None:
    assert store.last_row() is None
    store.append("s:1", [ev("A")])
    rows = _rows_on_head(store, StreamAppend("s:1", (ev("B", n=1),)), StreamAppend("s:2", (ev("C"),)))
    store.write_rows(rows)
    assert store.last_row() == rows[-1]
    assert [(e.seq, e.stream_id, e.version, e.hash) for e in store.read_all(after=1)] == [
        (r.seq, r.stream_id, r.version, r.hash) for r in rows]
    assert store.stream_version("s:1") == 2 and store.verify().ok


def test_rows_built_on_an_old_head_raise_log_moved_and_write_nothing(store: EventStore) -> None:
    store.append("s:1", [ev("A")])
    stale = _rows_on_head(store, StreamAppend("s:2", (ev("B"),)))
    store.append("s:3", [ev("Meanwhile")])  # another writer moved the head
    with pytest.raises(LogMoved) as caught:
        store.write_rows(stale)
    assert (caught.value.expected_seq, caught.value.actual_seq) == (1, 2)
    assert store.head() == 2 and store.stream_version("s:2") == 0 and store.verify().ok


def test_rows_with_the_right_seq_but_another_chain_raise_log_moved(store: EventStore) -> None:
    store.append("s:1", [ev("A")])
    forged = _rows_on_head(store, StreamAppend("s:2", (ev("B"),)))[0]._replace(prev_hash="f" * 64)
    with pytest.raises(LogMoved):
        store.write_rows([forged])
    assert store.head() == 1


def test_an_empty_group_of_rows_writes_nothing(store: EventStore) -> None:
    store.write_rows([])
    assert store.head() == 0 and store.last_row() is None


def test_reads_beside_a_writer_see_whole_groups_only(store: EventStore) -> None:
    """The engine reads from the event loop while its writer thread commits groups: never half a group."""
    group, groups = 5, 40
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for g in range(groups):
                store.write_rows(_rows_on_head(store, StreamAppend(f"g:{g % 3}", tuple(ev("E") for _ in range(group)))))
        except BaseException as exc:  # reported by the reader's thread
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    seen = set()
    while thread.is_alive() or not seen:
        head = store.head()
        seen.add(head)
        assert head % group == 0, f"a reader saw {head} events: part of a group"
        assert len(store.read_all(after=0)) >= head
    thread.join(timeout=60)
    assert not failures, failures
    assert store.head() == group * groups and store.verify().ok
