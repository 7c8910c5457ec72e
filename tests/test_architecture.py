"""The dependency rules of pyproject.toml's [tool.importlinter]: handlers use the core and never
the reverse, only the GitHub package (bot/github/) and the simulated forge speak githubkit, the
simulated forge stays out of product code, no cycles between bot's packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(  # noqa: S603 - our own venv's tool
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in proc.stdout
