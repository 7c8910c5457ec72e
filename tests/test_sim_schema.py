"""The simulated forge registers its GraphQL types when asked (`build_schema`), never at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import bot.sim, bot.sim.graphql, bot.sim.graphql_base as base
from bot.sim.graphql_schema import build_schema
print(len(base.OBJECTS))
build_schema(); build_schema()
print(len(base.OBJECTS), base.field_def("Query", "repository") is not None)
"""


def test_importing_the_forge_registers_nothing_until_build_schema() -> None:
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "0"
    count, has_root = out[1].split()
    assert int(count) > 50 and has_root == "True"
