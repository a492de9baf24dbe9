"""The event log's exceptions: one base class and three precise failures."""

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


class NotAnEventLog(EventLogError):
    """The path is missing, is not an SQLite database, or holds no event log."""

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
