"""The wings and what each may import (docs/architecture.md), read from the source with `ast`: a forbidden
import fails here, naming the file and the import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset({"contract", "events", "servers", "federation", "vehicle_sim", "dashboards", "mosquitto", "bench",
                  "tests"})
#: Modules that do I/O (sockets, databases, threads, event loops, web frameworks): the pure layers import none.
IO = frozenset({"sqlite3", "socket", "ssl", "asyncio", "threading", "subprocess", "httpx", "aiohttp", "paho",
                "fastapi", "starlette", "uvicorn", "psycopg", "sqlite_utils", "streamlit"})

#: A wing (a package, or a folder of one) → the wings of ours it may import, besides itself. A name matches a
#: module and every module under it; the longest listed prefix of a file's module decides its rules.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "events": frozenset(),
    "contract": frozenset(),
    "mosquitto": frozenset({"contract"}),
    "vehicle_sim": frozenset({"contract"}),
    "dashboards": frozenset({"contract", "vehicle_sim"}),
    # one company's server: its inner layers, from the pure ones outwards
    "servers.world": frozenset(),
    "servers.bookings": frozenset({"servers.world", "events.model", "contract"}),
    "servers.domain": frozenset({"servers.bookings"}),  # only the fold's stored name (servers/domain/state.py)
    "servers.service": frozenset({"servers.world", "servers.bookings", "servers.faults", "events", "contract",
                                  "mosquitto"}),
    "servers": frozenset({"servers", "events", "contract", "mosquitto"}),  # adapters, api, wiring: the server
    "federation": frozenset({"servers", "events", "contract", "mosquitto", "vehicle_sim"}),
}
#: Wings that must do no I/O: decisions and data, tested without sockets or files.
PURE = ("servers.world", "servers.bookings", "contract.vocabulary", "contract.topics")


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def wing_of(module: str, wings: list[str]) -> str | None:
    found = [w for w in wings if module == w or module.startswith(w + ".")]
    return max(found, key=len) if found else None


def imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def sources() -> list[Path]:
    return sorted(p for top in MAY_IMPORT if "." not in top for p in (ROOT / top).rglob("*.py"))


def test_every_package_of_ours_has_rules() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    assert packages <= set(MAY_IMPORT), f"add the new package to MAY_IMPORT: {sorted(packages - set(MAY_IMPORT))}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_wing_imports_only_what_it_may(path: Path) -> None:
    module = module_of(path)
    wing = wing_of(module, list(MAY_IMPORT))
    assert wing is not None
    allowed = MAY_IMPORT[wing] | {wing}
    bad = [f"{path.relative_to(ROOT)}:{line}: {wing} imports {name}" for line, name in imports(path)
           if name.split(".")[0] in OURS and wing_of(name, list(allowed)) is None]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", [p for p in sources() if wing_of(module_of(p), list(PURE))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_pure_layers_do_no_io(path: Path) -> None:
    bad = [f"{path.relative_to(ROOT)}:{line}: imports {name}" for line, name in imports(path)
           if name.split(".")[0] in IO]
    assert not bad, "\n".join(bad)


def test_the_fold_keeps_the_name_old_logs_and_snapshots_store() -> None:
    from events.fold import load_fold, snapshot_key
    from servers.bookings.state import FOLD

    assert load_fold("servers.domain.state:FOLD") is FOLD
    assert snapshot_key(FOLD).startswith("servers.domain.state:FOLD@")
