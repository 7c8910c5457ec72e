"""One run of `veilleur demo --fast --no-serve` for the whole session (about a minute on the
2-core machine, several on a busy one): tests/test_demo.py checks its summary and output,
tests/test_replay_demo.py replays the database it kept. Each used to run the demo itself."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEPT = "veilleur-demo.db"  # the demo's own file, in its working directory


@dataclass(frozen=True)
class DemoRun:
    cwd: Path  # where it ran: holds KEPT, which tests may read or query
    summary: Path  # --json
    stdout: str
    pristine: Path  # a copy of KEPT taken as the demo exited, before any test touched it


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    where = tmp_path_factory.mktemp("demo")
    out = where / "demo.json"
    cmd = [sys.executable, "-m", "bot.cli", "demo", "--fast", "--no-serve", "--port", "0"]
    proc = subprocess.run(
        [*cmd, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=where,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pristine = tmp_path_factory.mktemp("demo-copy") / KEPT
    if (where / KEPT).is_file():  # (test_demo says so when it is not)
        src, dst = sqlite3.connect(where / KEPT), sqlite3.connect(pristine)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    return DemoRun(where, out, proc.stdout, pristine)
