"""The suite itself: a test whose material (../shared, Chromium) is missing skips on a developer's
machine but fails in CI (CI=true), where a skip would hide that nothing was checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

NEEDS_MATERIAL = [
    "tests/test_records.py::test_parse_real_payloads",
    "tests/test_simforge_openapi.py::test_nullable_is_honoured",
    "tests/test_simforge_webhooks.py::test_schema_check_catches_a_wrong_payload",
    "tests/test_browser.py::test_dashboard_in_chromium",
]


def run_without_material(tmp_path: Path, ci: str | None) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {"VEILLEUR_TEST_SHARED": str(tmp_path / "absent"), "VEILLEUR_CHROMIUM": "/absent"}
    if ci is not None:
        env["CI"] = ci
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "sqlite or not sql"]
        + NEEDS_MATERIAL,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = proc.stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", tail)}


def test_missing_material_fails_in_ci(tmp_path: Path) -> None:
    counts = run_without_material(tmp_path, "true")
    assert counts.get("failed", 0) >= len(NEEDS_MATERIAL)
    assert counts.get("skipped", 0) == 0 and counts.get("passed", 0) == 0


def test_missing_material_skips_elsewhere(tmp_path: Path) -> None:
    counts = run_without_material(tmp_path, None)
    assert counts.get("skipped", 0) >= len(NEEDS_MATERIAL)
    assert counts.get("failed", 0) == 0 and counts.get("passed", 0) == 0
