"""`make test` runs the browser tests or stops loudly: it installs Chromium the way it installs Mosquitto."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # make and the set-up scripts, as processes

ROOT = Path(__file__).resolve().parents[2]


def test_make_test_installs_chromium_and_requires_the_browser_tests():
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    lines = dry.stdout.splitlines()
    ensure = next(i for i, line in enumerate(lines) if "scripts/ensure-chromium.sh" in line)
    pytest_line = next(i for i, line in enumerate(lines) if "/pytest" in line)
    assert ensure < pytest_line
    assert "RECARGA_REQUIRE_BROWSER=1" in lines[pytest_line]  # a missing browser fails, never skips


def test_without_chromium_and_without_root_the_setup_says_what_to_install(tmp_path):
    fake_id = tmp_path / "id"
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    done = subprocess.run(["/bin/bash", str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True,
                          text=True, timeout=60, env={"PATH": str(tmp_path)})  # no chromium on this PATH
    assert done.returncode == 1
    assert "apt-get install chromium" in done.stderr
