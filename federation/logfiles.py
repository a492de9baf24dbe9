"""Reading a company's event log whole, for tools that judge logs from outside a server (`federation check`).

A log is a file or a `postgresql://` URL (`events.location`). Every way it can fail to be a readable log
ends as one exception with one line of text: a snapshot file (`SnapshotFile`, which a tool skips), or
`LogUnreadable` (missing, not SQLite, damaged pages, a database that does not answer, a broken hash chain).
SQLite reports damage lazily — a flipped byte in a row, a page that is not a b-tree page — while rows are
read, so the whole read happens here, inside the one `try`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from events.errors import EventLogError
from events.location import open_store, parse_location
from events.model import RecordedEvent

#: The one table of `events.snapshots.SnapshotStore`'s file.
SNAPSHOT_TABLES = frozenset({"snapshots"})
_MAX_REASON = 160  # a damaged row's text is quoted by SQLite: keep the line short and readable


class SnapshotFile(Exception):
    """The file holds saved states (a `SnapshotStore`), not an event log."""


class LogUnreadable(Exception):
    """The file cannot be read as an intact event log; `tampered` when its hash chain is what broke."""

    def __init__(self, where: object, why: str, *, tampered: bool = False) -> None:
        super().__init__(f"{where}: {why}")
        self.tampered = tampered


def is_snapshot_file(path: Path) -> bool:
    """Whether `path` is an SQLite file whose only table is the snapshot store's (read-only look)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return tables == SNAPSHOT_TABLES


def _short(exc: object) -> str:
    # "Could not decode to UTF-8 column 'data' with text '<the damaged bytes>'": the bytes say nothing to a person.
    text = " ".join(str(exc).split(" with text ")[0].split())
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON] + "…"


def read_log(location: str | Path) -> tuple[str, list[RecordedEvent]]:
    """(company, every event) of an intact log (a file or a URL); SnapshotFile or LogUnreadable otherwise."""
    try:
        where = parse_location(location)
    except EventLogError as exc:
        raise LogUnreadable(location, _short(getattr(exc, "why", exc))) from None
    path = where.path
    if path is not None and not path.is_file():
        raise LogUnreadable(where, "no such file")
    if path is not None and is_snapshot_file(path):
        raise SnapshotFile(str(path))
    try:
        with open_store(where, create=False) as store:
            report = store.verify()
            if not report.ok:
                raise LogUnreadable(where, f"damaged at seq {report.first_bad_seq}: {report.reason}", tampered=True)
            return store.get_meta("company") or (path.stem if path else str(where)), list(store.iter_all())
    except EventLogError as exc:
        raise LogUnreadable(where, _short(getattr(exc, "why", exc))) from None
    except (sqlite3.Error, UnicodeDecodeError, ValueError) as exc:
        raise LogUnreadable(where, f"damaged SQLite file ({_short(exc)})") from None
    except OSError as exc:
        raise LogUnreadable(where, _short(exc)) from None
