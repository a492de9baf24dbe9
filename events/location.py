"""Where a log lives — a file path (SQLite, the embedded default) or a `postgresql://` URL — and opening it.

This module imports neither psycopg nor sqlite-utils: a server that keeps its
log in a file never loads the PostgreSQL driver, and one that keeps it in
PostgreSQL loads it only when it opens the log.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from events.errors import BadLogLocation, LogUnavailable
from events.store import SqliteEventStore, Synchronous

if TYPE_CHECKING:
    from events.postgres import PostgresEventStore

OpenedStore: TypeAlias = "SqliteEventStore | PostgresEventStore"
"""What `open_store` returns: an `EventStore`, plus the tools' extras (`iter_rows`, `query`)."""

POSTGRES_SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True, slots=True)
class LogLocation:
    """A parsed log location: `kind` says which store, `target` is the file path or the full URL."""

    kind: Literal["sqlite", "postgresql"]
    target: str

    @property
    def path(self) -> Path | None:
        """The file of an SQLite log, None for a database."""
        return Path(self.target) if self.kind == "sqlite" else None

    def __str__(self) -> str:
        """The location as it may be printed: a URL's password is masked."""
        return redact(self.target) if self.kind == "postgresql" else self.target


def parse_location(location: str | os.PathLike[str]) -> LogLocation:
    """A file path or `sqlite:///path` → SQLite; `postgresql://…` (or `postgres://…`) → PostgreSQL.

    BadLogLocation for any other `scheme://`, or an empty location.
    """
    text = os.fspath(location)
    if not text.strip():
        raise BadLogLocation(repr(text), "an empty log location")
    match = _SCHEME.match(text)
    if match is None:
        return LogLocation("sqlite", text)
    scheme = match.group(1).lower()
    if scheme in POSTGRES_SCHEMES:
        return LogLocation("postgresql", text)
    if scheme == "sqlite":
        path = text[len("sqlite://"):]
        if not path:
            raise BadLogLocation(text, "sqlite:// names no file (sqlite:///absolute/path.db)")
        return LogLocation("sqlite", path)
    raise BadLogLocation(redact(text), f"unknown log scheme {scheme!r}: give a file path (SQLite) or a "
                                       "postgresql://user@host:port/database URL")


def open_store(location: str | os.PathLike[str] | LogLocation, *, synchronous: Synchronous = "FULL",
               create: bool = True) -> OpenedStore:
    """Open the log at `location` (see `parse_location`); NotAnEventLog, LogUnavailable or BadLogLocation."""
    where = location if isinstance(location, LogLocation) else parse_location(location)
    if where.kind == "sqlite":
        return SqliteEventStore(where.target, synchronous=synchronous, create=create)
    try:
        from events.postgres import PostgresEventStore
    except ImportError as exc:  # the driver is an extra a file-only deployment may leave out
        raise LogUnavailable(str(where), f"the PostgreSQL driver is not installed ({exc}); "
                                         "pip install 'psycopg[binary]'") from None
    return PostgresEventStore(where.target, synchronous=synchronous, create=create)


def redact(url: str) -> str:
    """`url` with its password (in the authority or a `password=` parameter) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^@/]*@", "//***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hosts}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k.lower() == "password" for k, _ in pairs):
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
