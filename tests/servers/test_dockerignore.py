"""The image build context: what `COPY . .` would take, computed from .dockerignore with Docker's rules.

Docker is not available here, so the rules are applied as moby's patternmatcher applies them: each pattern
anchored at the context's root, `*` and `?` within one path segment, `**` across any number, a pattern that
matches a parent directory excluding everything below it, `!` re-including, the last matching pattern
deciding. The tree checked is this repository after `make run`: the host's `.venv`, `run/` as the launcher
writes it (real secrets), event logs, caches.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from events.model import NewEvent
from events.store import SqliteEventStore

ROOT = Path(__file__).resolve().parents[2]


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1:i + 2] == "*":
                i += 1
                if pattern[i + 1:i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is an exception, regex) per pattern line, as Docker reads .dockerignore."""
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        pattern = re.sub(r"/+", "/", pattern).removeprefix("/").removesuffix("/") or "."
        found.append((negate, _regex(pattern)))
    return found


def excluded(path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """moby's MatchesOrParentMatches: does the last pattern that matches the path or a parent exclude it?"""
    parts = path.split("/")
    parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
    matched = False
    for negate, rx in patterns:
        if negate != matched:
            continue
        if rx.match(path) or any(rx.match(p) for p in parents):
            matched = not negate
    return matched


def context(tree: Path, patterns: list[tuple[bool, re.Pattern[str]]]) -> list[str]:
    """Every file of `tree` that the build context keeps (symlinks are sent as links, not followed)."""
    kept = []
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree).as_posix()
        if (path.is_file() or path.is_symlink()) and not excluded(rel, patterns):
            kept.append(rel)
    return kept


@pytest.mark.parametrize(("pattern", "path", "out"), [
    ("*.db", "a.db", True), ("*.db", "run/data/a.db", False), ("**/*.db", "run/data/a.db", True),
    ("**/*.db", "a.db", True), ("run", "run/brokers/x/passwd", True), ("run", "servers/run.py", False),
    ("**/__pycache__", "servers/__pycache__/x.pyc", True), ("/tmp/", "tmp/x", True),
])
def test_the_matcher_follows_dockers_rules(pattern, path, out):
    assert excluded(path, rules(pattern)) is out


def test_an_exception_re_includes_and_the_last_rule_wins():
    assert not excluded("docs/keep.db", rules("**/*.db\n!docs/keep.db"))
    assert excluded("docs/keep.db", rules("!docs/keep.db\n**/*.db"))


@pytest.fixture(scope="module")
def after_make_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's files, plus what `make run` leaves beside them."""
    tree = tmp_path_factory.mktemp("context") / "recarga"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, tracked.decode().split("\0")):
        if (ROOT / rel).is_file():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, tree / rel)
    subprocess.run([sys.executable, "-m", "federation", "config", "--run-dir", str(tree / "run")], cwd=ROOT,
                   check=True, capture_output=True, timeout=60)
    (tree / "run" / "data").mkdir()
    with SqliteEventStore(tree / "run" / "data" / "voltpoint.db") as store:
        store.append("account:v1", [NewEvent("AccountOpened", {"password_hash": "scrypt$secret"})])
    (tree / "run" / "logs").mkdir()
    (tree / "run" / "logs" / "voltpoint.log").write_text("server log\n")
    for rel, text in {".venv/bin/python": "#!", ".venv/lib/python3.11/site-packages/x.py": "",
                      ".git/config": "[core]", "servers/__pycache__/cli.cpython-311.pyc": "",
                      "stray.db": "", "bench/out/bench.db-wal": "", ".env": "RECARGA_BROKER_KEY=x"}.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    return tree


def secrets_of(run: Path) -> set[str]:
    """Every secret the launcher wrote: peer secrets, service logins and keys, broker password hashes."""
    import json

    found = set(json.loads((run / "peer-secrets.json").read_text()).values())
    for logins in json.loads((run / "service-logins.json").read_text()).values():
        found.update(logins.values())
    for passwd in run.glob("brokers/*/passwd"):
        found.update(line.split(":", 1)[1] for line in passwd.read_text().splitlines() if ":" in line)
    return {s for s in found if len(s) >= 8}


@pytest.mark.integration
def test_the_build_context_holds_no_secret_no_venv_no_run_no_log(after_make_run):
    kept = context(after_make_run, rules((ROOT / ".dockerignore").read_text()))
    assert not [p for p in kept if p.split("/")[0] in (".venv", "run", ".git")]
    assert not [p for p in kept if re.search(r"\.db(-wal|-shm)?$", p) or "__pycache__" in p or p == ".env"]
    secrets = secrets_of(after_make_run / "run")
    assert len(secrets) >= 10
    leaked = [p for p in kept if any(s in (after_make_run / p).read_text(errors="replace") for s in secrets)]
    assert not leaked


@pytest.mark.integration
def test_the_build_context_keeps_what_the_image_runs(after_make_run):
    kept = set(context(after_make_run, rules((ROOT / ".dockerignore").read_text())))
    for needed in ("Dockerfile", "requirements.txt", "pyproject.toml", "README.md", "servers/__main__.py",
                   "servers/data/network.json", "events/store.py", "mosquitto/config.py", "dashboards/streamlit_app.py",
                   "dashboards/app_pages/book.py", ".streamlit/config.toml", "vehicle_sim/__main__.py"):
        assert needed in kept, needed
