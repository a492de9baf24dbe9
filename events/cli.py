"""The replay CLI: summary, list, state, verify and export of one event log.

LOG is an SQLite file or a `postgresql://` URL (`events.location`).
Exit codes: 0 done (or log intact), 1 `verify` found the chain broken,
2 bad usage, a missing or non-log file, an unreachable database, or a fold
that cannot be loaded.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.pretty import Pretty
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from events.chain import Row
from events.errors import EventLogError
from events.examples import GENERIC
from events.fold import fold_name, load_fold, replay, save_snapshot
from events.location import OpenedStore, open_store, redact
from events.model import Fold, RecordedEvent
from events.snapshots import SnapshotStore
from events.summary import summarize

PROGRESS_MIN = 50_000  # below this many events a bar only flickers
PAGE = 5_000

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Inspect a recarga event log: summary, list, state, verify, export.")
LogArg = Annotated[str, typer.Argument(help="The event log: an SQLite file or a postgresql:// URL.",
                                       metavar="LOG", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON instead of tables.")]


def main() -> None:
    """Entry point of `python -m events`."""
    app(prog_name="python -m events")


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _opened(log: str) -> Iterator[OpenedStore]:
    """The log opened read-mostly; every failure of the file or database becomes one line and exit 2."""
    try:
        with open_store(log, create=False) as store:
            yield store
    except EventLogError as exc:
        _fail(str(exc))
    except (sqlite3.Error, OSError) as exc:
        _fail(f"{redact(log)}: {exc}")


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO-8601 time", param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # a time without zone is UTC


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long work on a terminal; None otherwise."""
    console = Console(stderr=True)
    if total <= PROGRESS_MIN or not console.is_terminal:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done, _total: bar.update(task, completed=done)


def event_json(event: RecordedEvent) -> dict[str, Any]:
    """The JSON object of one event, as `list --json` prints it."""
    return {"seq": event.seq, "stream_id": event.stream_id, "version": event.version, "type": event.type,
            "recorded_at": event.recorded_at.isoformat(timespec="microseconds"), "data": event.data,
            "hash": event.hash}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@app.command()
def summary(log: LogArg, as_json: JsonOpt = False) -> None:
    """Counts by stream prefix and by type, time span, head seq, file size and fold."""
    with _opened(log) as store:
        info = summarize(store)
    if as_json:
        typer.echo(_dumps(info.to_json()))
        return
    console = Console()
    overview = Table.grid(padding=(0, 2))
    for key, value in (("log", info.path), ("head seq", str(info.head)), ("events", str(info.events)),
                       ("first", info.first_time or "-"), ("last", info.last_time or "-"),
                       ("size", f"{info.file_bytes:,} bytes"),
                       ("fold", info.fold or "(none: `state` uses the generic fold)")):
        overview.add_row(f"[bold]{key}[/]", value)
    console.print(overview)
    prefixes = Table("stream prefix", "events", "streams", title="By stream prefix")
    for p in info.by_prefix:
        prefixes.add_row(p.prefix, str(p.events), str(p.streams))
    types = Table("type", "events", title="By type")
    for name, count in info.by_type.items():
        types.add_row(name, str(count))
    console.print(prefixes, types)


@app.command("list")
def list_events(
    log: LogArg,
    stream: Annotated[str | None, typer.Option(help="Only this stream id.")] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", help="Only this type (repeatable).")] = None,
    after: Annotated[int, typer.Option(min=0, help="Only seq > AFTER.")] = 0,
    until: Annotated[int | None, typer.Option(min=0, help="Only seq <= UNTIL.")] = None,
    since: Annotated[str | None, typer.Option(help="Only recorded at or after this ISO time.")] = None,
    until_time: Annotated[str | None, typer.Option(help="Only recorded at or before this ISO time.")] = None,
    limit: Annotated[int | None, typer.Option(min=0, help="At most this many events.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List events, filtered; a table, or one JSON object per line with --json."""
    since_t, until_t = _parse_time(since, "--since"), _parse_time(until_time, "--until-time")
    table = Table("seq", "recorded at", "stream", "v", "type", "data")
    with _opened(log) as store:
        remaining = limit
        while remaining is None or remaining > 0:
            page = store.read_all(after, PAGE if remaining is None else min(PAGE, remaining), types=type_,
                                  stream_id=stream, until_seq=until, since=since_t, until_time=until_t)
            for event in page:
                if as_json:
                    typer.echo(_dumps(event_json(event)))
                else:
                    table.add_row(str(event.seq), event.recorded_at.isoformat(timespec="microseconds"),
                                  event.stream_id, str(event.version), event.type, _dumps(event.data))
            if len(page) < PAGE and (remaining is None or len(page) < remaining):
                break
            after = page[-1].seq
            remaining = None if remaining is None else remaining - len(page)
    if not as_json:
        Console().print(table)


@app.command()
def state(
    log: LogArg,
    at: Annotated[int | None, typer.Option(min=0, help="The state after event AT.")] = None,
    at_time: Annotated[str | None, typer.Option(help="The state at this ISO time.")] = None,
    as_json: JsonOpt = False,
    snapshots: Annotated[Path | None, typer.Option(help="A snapshot file to start from.")] = None,
    save: Annotated[bool, typer.Option("--save-snapshot", help="Save the result into --snapshots.")] = False,
    fold_path: Annotated[str | None,
                         typer.Option("--fold", help="package.module:attr; overrides meta.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Print the whole state, not its summary.")] = False,
) -> None:
    """Rebuild the state by folding the log (the fold named in the log's meta `fold`).

    Prints a summary (each part of the state and how much it holds); `--full` prints all of it, `--json`
    gives all of it as JSON. An `--at` past the log's end says so and shows the state after the last event.
    """
    if at is not None and at_time is not None:
        raise typer.BadParameter("give --at or --at-time, not both", param_hint="--at")
    if save and snapshots is None:
        raise typer.BadParameter("--save-snapshot needs --snapshots PATH", param_hint="--save-snapshot")
    moment = _parse_time(at_time, "--at-time")
    with _opened(log) as store:
        fold = _discover_fold(fold_path or store.get_meta("fold"))
        snaps = _open_snapshots(snapshots, create=save) if snapshots else None
        head = store.head()
        if at is not None and at > head:
            typer.echo(f"note: the log ends at seq {head}; --at {at} is past its end, so this is the state "
                       "after its last event", err=True)
        target = head if at is None else min(at, head)
        with _progress("replaying", target) as progress:
            result, seq = replay(store, fold, until_seq=at, until_time=moment, snapshots=snaps,
                                 progress=progress)
        if snaps is not None and save:
            save_snapshot(store, fold, snaps, result, seq)
    body = fold.to_json(result)
    if as_json:
        typer.echo(_dumps({"seq": seq, "fold": fold_name(fold), "state": body}))
    else:
        console = Console()
        console.print(f"[bold]state at seq {seq}[/] (fold {fold_name(fold)})")
        console.print(Pretty(body) if full else _state_summary(body))
        if not full:
            console.print("(a summary: --full prints the whole state, --json gives it as JSON)")


def _state_summary(body: Any) -> Table:
    """Each top-level part of a folded state and how much it holds (the whole may be tens of thousands of lines)."""
    table = Table("part", "holds", title="State")
    parts = body.items() if isinstance(body, dict) else [("state", body)]
    for key, value in parts:
        if isinstance(value, dict):
            held = f"{len(value):,} entries"
        elif isinstance(value, list | tuple | set):
            held = f"{len(value):,} items"
        else:
            text = str(value)
            held = text if len(text) <= 60 else text[:57] + "…"
        table.add_row(str(key), held)
    return table


def _discover_fold(dotted: str | None) -> Fold[Any]:
    if dotted is None:
        typer.echo("note: the log names no fold (meta `fold`); using the generic fold: events counted"
                   " by stream and type, and each stream's last event", err=True)
        return GENERIC
    try:
        return load_fold(dotted)
    except Exception as exc:  # any import-time failure of someone else's module: report, don't trace
        _fail(f"cannot load the fold {dotted!r}: {exc.__class__.__name__}: {exc} (try --fold)")


def _open_snapshots(path: Path, *, create: bool) -> SnapshotStore:
    if not create and not path.exists():
        _fail(f"{path}: no such snapshot file")
    try:
        return SnapshotStore(path)
    except sqlite3.Error as exc:
        _fail(f"{path}: not a snapshot file ({exc})")


@app.command()
def verify(log: LogArg) -> None:
    """Recompute the hash chain: exit 0 if intact, 1 naming the first bad seq."""
    with _opened(log) as store, _progress("verifying", store.head()) as progress:
        report = store.verify(progress)
    if report.ok:
        typer.echo(f"intact ({report.checked} events)")
        return
    typer.echo(f"TAMPERED at seq {report.first_bad_seq}: {report.reason}"
               f" ({report.checked} events before it are intact)")
    raise typer.Exit(1)


@app.command()
def export(
    log: LogArg,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    after: Annotated[int, typer.Option(min=0, help="Only seq > AFTER.")] = 0,
    until: Annotated[int | None, typer.Option(min=0, help="Only seq <= UNTIL.")] = None,
) -> None:
    """Every event as one JSON object per line, with `prev_hash`, so the copy can be re-verified."""
    with _opened(log) as store:
        target = store.head() if until is None else min(until, store.head())
        try:
            sink = open(out, "w", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
        except OSError as exc:
            _fail(f"{out}: {exc}")
        try:
            with _progress("exporting", target - after) as progress:
                _write_rows(store.iter_rows(after, until), sink, progress)
        finally:
            if out:
                sink.close()


def _write_rows(rows: Iterator[Row], sink: TextIO, progress: Callable[[int, int], None] | None) -> None:
    for n, row in enumerate(rows, 1):
        # `data` is already canonical JSON text: splice it in instead of parsing it.
        head = _dumps({"seq": row.seq, "stream_id": row.stream_id, "version": row.version, "type": row.type,
                       "recorded_at": row.recorded_at, "prev_hash": row.prev_hash, "hash": row.hash})
        sink.write(f'{head[:-1]}, "data": {row.data}}}\n')
        if progress is not None and n % 10_000 == 0:
            progress(n, 0)
