"""The event log's exceptions: one base class and six precise failures."""

from __future__ import annotations


class EventLogError(Exception):
    """Base class of every error the event log raises."""


class ConcurrencyError(EventLogError):
    """A stream was not at the version the appender expected; nothing was written."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class LogMoved(EventLogError):
    """Rows built for one head of the log were written after another: someone else appended; nothing written."""

    def __init__(self, expected_seq: int, actual_seq: int) -> None:
        super().__init__(f"rows follow event {expected_seq}, but the log is at {actual_seq}")
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq


class NotAnEventLog(EventLogError):
    """The path or database is missing, is not SQLite (or PostgreSQL), or holds no event log."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why


class LogTampered(EventLogError):
    """The hash chain does not hold at `seq`: the log was changed behind its back."""

    def __init__(self, seq: int, why: str) -> None:
        super().__init__(f"event {seq}: {why}")
        self.seq = seq
        self.why = why


class BadLogLocation(EventLogError):
    """A log location that is neither a file path nor a URL of a store we have (`postgresql://…`)."""

    def __init__(self, location: str, why: str) -> None:
        super().__init__(f"{location}: {why}")
        self.location = location
        self.why = why


class LogUnavailable(EventLogError):
    """The log's database cannot be reached, refused the work, or dropped the connection.

    A write that fails this way may or may not have been committed: read the log again to know.
    """

    def __init__(self, location: str, why: str) -> None:
        super().__init__(f"{location}: {why}")
        self.location = location
        self.why = why
