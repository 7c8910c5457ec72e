"""`veilleur serve` forks its worker process (memory shared with the web process, issue 13) at
a lower CPU priority (intake first), and the forked worker still handles deliveries and goes
away with the web process."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from bot.queue.worker_process import WORKER_NICENESS
from bot.sim import Forge
from tests.harness import City
from tests.scaleout_support import Procs, free_port, veilleur_env, wait_until


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out.extend(int(c) for c in (task / "children").read_text().split())
    return out


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_the_forked_worker_handles_deliveries_and_dies_with_the_web_process(
    forge: Forge, forge_server: Any, city: City, tmp_path: Path
) -> None:
    db = tmp_path / "veilleur.db"
    procs = Procs(veilleur_env(forge, forge_server.url, f"sqlite:///{db}"), tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    worker = 0
    try:
        serve = procs.start("serve", "serve", "--port", str(port))
        wait_until(ready, 60, "serve not ready", procs, "serve")
        # Forked, not spawned: the worker runs the web process's own command line (a spawned
        # one runs `python -c "from multiprocessing.spawn import ..."`).
        forked = [p for p in children(serve.pid) if cmdline(p) == cmdline(serve.pid)]
        assert len(forked) == 1, [cmdline(p) for p in children(serve.pid)]
        [worker] = forked
        # Without docstrings nor assertions (`-OO`, bot/heap.py: MBs a process), and so is
        # the writer process it starts.
        assert b"\0-OO\0" in cmdline(serve.pid), cmdline(serve.pid)
        writers = [p for p in children(serve.pid) if b"writer_main" in cmdline(p)]
        assert len(writers) == 1 and b"\0-OO\0" in cmdline(writers[0])
        # Intake first when the cores are short (bench/drain.py); 19 is the lowest priority.
        assert niceness(worker) == min(19, niceness(serve.pid) + WORKER_NICENESS)
        # ...and preempted by them as soon as they wake (SCHED_IDLE), its threads too.
        assert os.sched_getscheduler(worker) == os.SCHED_IDLE
        assert all(
            os.sched_getscheduler(int(t.name)) == os.SCHED_IDLE
            for t in Path(f"/proc/{worker}/task").iterdir()
        )
        assert os.sched_getscheduler(serve.pid) == os.SCHED_OTHER
        forge.webhook_url = f"{url}/webhooks/github"
        forge.scenario.install(city.org)
        n = forge.scenario.open_issue(city.repo, city.citizen_fr, "Carte", "La carte est vide.")

        def welcomed() -> bool:
            comments = forge.get_repo(city.repo).comments.values()
            return any(c.issue_number == n and "veilleur:welcome" in c.body for c in comments)

        wait_until(welcomed, 60, "the forked worker did not handle the issue", procs, "serve")
        serve.send_signal(signal.SIGKILL)  # no shutdown: only the closed pipe tells the worker
        serve.wait(10)
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(worker), "the worker outlived the web process"
    finally:
        forge.webhook_url = None
        procs.stop()
        if worker and alive(worker):  # this test's own orphan, if it failed
            os.kill(worker, signal.SIGKILL)
