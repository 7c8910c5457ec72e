"""Slow checks that run in a process of their own, started as soon as the session knows it will
need them, so that they use the CPU the other tests leave idle (those mostly wait on servers
and subprocesses); the test then only reads the outcome. mypy from a cold cache is ~40 s of
CPU: waited for in its turn, it was the suite's third longest test.

A check runs at the lowest priority (`nice` 19): the tests running meanwhile, some of which
measure a latency, keep the CPU they need. `result()` starts the check if the session did not
(a test run on its own), and a check nobody collected is stopped when the session ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKS: dict[str, tuple[str, ...]] = {
    # No arguments: mypy takes the packages and options from [tool.mypy] in pyproject.toml.
    "mypy": (sys.executable, "-m", "mypy"),
}
# node ids of the tests that read each check: the session starts a check when one is collected
READERS = {"tests/test_lint.py::test_mypy": "mypy"}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    where: Path  # its stdout and stderr, as files (a pipe nobody reads would fill and block)


_running: dict[str, _Running] = {}


def _lowest_priority() -> None:
    os.nice(19)


def start(name: str) -> None:
    if name in _running:
        return
    where = Path(tempfile.mkdtemp(prefix=f"veilleur-{name}-"))
    with (where / "stdout").open("wb") as out, (where / "stderr").open("wb") as err:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and its tools
            CHECKS[name], cwd=ROOT, stdout=out, stderr=err, preexec_fn=_lowest_priority
        )
    _running[name] = _Running(proc, where)


def result(name: str, timeout: float) -> Outcome:
    """The check's outcome; raises subprocess.TimeoutExpired (after stopping it) when it takes
    longer than `timeout` seconds from now."""
    start(name)
    run = _running[name]
    try:
        run.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(name)
        raise
    del _running[name]
    out, err = ((run.where / f).read_text(errors="replace") for f in ("stdout", "stderr"))
    shutil.rmtree(run.where, ignore_errors=True)
    return Outcome(run.proc.returncode, out, err)


def stop(name: str) -> None:
    run = _running.pop(name, None)
    if run is None:
        return
    if run.proc.poll() is None:
        run.proc.kill()
        run.proc.wait()
    shutil.rmtree(run.where, ignore_errors=True)


def stop_all() -> None:
    for name in list(_running):
        stop(name)
