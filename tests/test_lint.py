"""Lint and type-check the project as part of the test suite, with the configuration in
pyproject.toml, so a style or typing regression fails CI like any other test."""

from __future__ import annotations

import subprocess
import sys

from tests import background
from tests.conftest import REPO_ROOT


def _run(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_ruff_check_and_format() -> None:
    for args in (("ruff", "check", "."), ("ruff", "format", "--check", ".")):
        proc = _run(*args, timeout=120)
        assert proc.returncode == 0, (
            f"`{' '.join(args)}` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )


def test_mypy() -> None:
    # About 35-50 s from a cold .mypy_cache (gitignored), about a second when warm: started
    # with the session, beside the other tests (tests/background.py); here, its outcome.
    proc = background.result("mypy", timeout=280)
    assert proc.returncode == 0, f"mypy exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
