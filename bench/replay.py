"""Replay benchmark: one year of a generated busy organisation of 500 repositories.

    .venv/bin/python bench/replay.py [--repos 500] [--days 365] [--seed 17] [--demo-db FILE]

Generates the organisation (`bot.replay.busy`, sources cited there and in the README), then
times `replay_history` over the year, sweeping every 15 minutes as the live bot does, and
computes the attention figures (`bot.digest.attention`). Target: the replay in under 60 s. With
`--demo-db` (the database `veilleur demo` keeps), the demo's organisation is replayed too.
Prints the figures; writes bench/results/replay.json (wall and CPU seconds and the load
average: the machine may be shared, CPU time is the figure to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bot.digest.fastcal import PrefixCalendar  # noqa: E402
from bot.messages.language import detect_item_language  # noqa: E402
from bot.replay.busy import busy_org, config_for  # noqa: E402
from bot.replay.engine import replay_history  # noqa: E402
from bot.replay.history import History  # noqa: E402
from bot.replay.report import figures_of  # noqa: E402
from bot.runtime import handler_modules  # noqa: E402


def measure(history: History, start: datetime, end: datetime, configs: Any) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = replay_history(
        history, start, end, configs, timedelta(minutes=15), handlers=handler_modules()
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cals: dict[str, Any] = {}

    def cal(repo: str) -> Any:
        if repo not in cals:
            cals[repo] = PrefixCalendar.from_config(configs(repo).calendar)
        return cals[repo]

    figures = figures_of(result, cal, lambda r: float(configs(r).sla.first_response_days))
    return {
        "items": len(history.items),
        "entries": sum(len(v) for v in history.entries.values()),
        "repositories": len(history.repos),
        "sweeps": result.sweeps,
        "item_evaluations": result.evaluations,
        "actions": len(result.produced),
        "replay_wall_seconds": round(wall, 2),
        "replay_cpu_seconds": round(cpu, 2),
        "attention": figures.to_json(),
        "targets": figures.targets(),
    }


def _mode(configs: Any, reminders: str | None) -> Any:
    """The configurations with `sla.reminders` set (item or daily), to compare the two."""
    if reminders is None:
        return configs
    cache: dict[str, Any] = {}

    def for_repo(repo: str) -> Any:
        if repo not in cache:
            cfg = configs(repo)
            sla = cfg.sla.model_copy(update={"reminders": reminders})
            cache[repo] = cfg.model_copy(update={"sla": sla})
        return cache[repo]

    return for_repo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--demo-db", help="the demo's kept database (veilleur-demo.db)")
    parser.add_argument(
        "--reminders", choices=("item", "daily"), help="sla.reminders for every repository"
    )
    args = parser.parse_args()
    detect_item_language("Bonjour", "la carte", ("fr", "en"), "fr")  # loads the models first
    began = time.perf_counter()
    history = busy_org(repos=args.repos, days=args.days, seed=args.seed)
    generated = time.perf_counter() - began
    start = min(i.created_at for i in history.items).replace(hour=0, minute=0, second=0)
    end = start + timedelta(days=args.days)
    out: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average_before": list(os.getloadavg()),
        "busy": {"generated_seconds": round(generated, 2)}
        | measure(history, start, end, _mode(config_for(history), args.reminders)),
    }
    if args.demo_db:
        from bot.replay.cli import config_source
        from bot.replay.history import load_history
        from bot.sim.demo import script
        from bot.storage.db import make_engine

        engine = make_engine(f"sqlite:///{args.demo_db}")
        demo = load_history(engine, "paris", datetime.max.replace(tzinfo=UTC))
        engine.dispose()
        first = script.at(script.START, 0).astimezone(UTC)
        last = script.at(script.END + timedelta(days=1), 0).astimezone(UTC)
        out["demo"] = measure(
            demo, first, last, _mode(config_source(None, demo.configs), args.reminders)
        )
    out["load_average_after"] = list(os.getloadavg())
    (HERE / "results").mkdir(exist_ok=True)
    name = f"replay-{args.reminders}.json" if args.reminders else "replay.json"
    (HERE / "results" / name).write_text(json.dumps(out, indent=1) + "\n")
    for name in ("busy", "demo"):
        if name in out:
            r = out[name]
            a = r["attention"]
            print(
                f"{name}: {r['repositories']} repositories, {r['items']} items, "
                f"{r['actions']} actions; replay {r['replay_wall_seconds']} s wall, "
                f"{r['replay_cpu_seconds']} s CPU"
            )
            print(f"  bot comments {a['bot_comments']}/{a['comments']} = {a['bot_comment_share']}")
            print(
                f"  reminders+escalations {a['reminders']}+{a['escalations']} = "
                f"{a['reminder_share']} of comments; mentions/person/week max "
                f"{a['mentions_max_per_person_week']} p90 {a['mentions_p90_per_person_week']}; "
                f"reminded after an action {a['reminded_after_action']} "
                f"(to that person {a['reminders_to_recent_actor']})"
            )
            print(f"  first response: {a['first_response']}")
            print(f"  targets: {r['targets']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
