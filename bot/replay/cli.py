"""`veilleur replay --org ORG --from DATE --to DATE [--config FILE] [--format md|json|html]`."""

from __future__ import annotations

import argparse
import sys
import time as _time
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.forge.names import org_config_repo, owner_of
from bot.settings import SettingsError
from bot.sla.calendar import BusinessCalendar


def config_source(path: str | None, recorded: dict[str, str]) -> Callable[[str], Any]:
    """Repository -> config: FILE over the defaults for every repository; without FILE, each
    repository's last valid recorded config, else its organisation's, else the defaults."""
    from bot.config.loader import load_default, parse_config_text, validate_layers
    from bot.config.schema import VeilleurConfig

    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read {path}: {exc}") from exc
        data, errors = parse_config_text(text, path)
        cfg = None
        if not errors:
            cfg, errors = validate_layers(load_default(), None, (data, path))
        if errors or cfg is None:
            raise SettingsError("; ".join(str(e) for e in errors))
        return lambda _repo: cfg
    default = VeilleurConfig.model_validate(load_default())
    cache: dict[str, Any] = {}

    def for_repo(repo: str) -> Any:
        if repo not in cache:
            org_file = org_config_repo(owner_of(repo))
            text = recorded.get(repo) or recorded.get(org_file)
            cache[repo] = VeilleurConfig.model_validate_json(text) if text else default
        return cache[repo]

    return for_repo


def parse_day(value: str, tz: Any, end: bool = False) -> datetime:
    """A date (midnight in the organisation's time zone; the day after it for --to) or an
    ISO date-time."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(0), tz).astimezone(UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SettingsError(f"{value!r} is not a date (YYYY-MM-DD) nor a date-time") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)


def cmd_replay(args: argparse.Namespace) -> int:
    from bot.replay.engine import replay_history
    from bot.replay.history import load_history
    from bot.replay.report import figures_of, render
    from bot.runtime import handler_modules
    from bot.settings import settings_from as _settings
    from bot.storage.db import make_engine

    settings = _settings(args)
    engine = make_engine(settings.database_url)
    try:
        history = load_history(engine, args.org, datetime.max.replace(tzinfo=UTC), args.bot_login)
    finally:
        engine.dispose()
    if not history.items:
        print(f"veilleur: no recorded item of {args.org}", file=sys.stderr)
        return 1
    configs = config_source(args.config, history.configs)
    tz = BusinessCalendar.from_config(configs(org_config_repo(args.org)).calendar).tz
    start, end = parse_day(args.from_, tz), parse_day(args.to, tz, end=True)
    if end <= start:
        raise SettingsError("--to must come after --from")
    began = _time.perf_counter()
    every = timedelta(minutes=args.sweep_minutes or settings.sweep_minutes)
    plans = handler_modules()  # the composition root hands the handlers over
    result = replay_history(history, start, end, configs, sweep_every=every, handlers=plans)
    seconds = _time.perf_counter() - began
    calendars: dict[str, BusinessCalendar] = {}

    def calendar_for(repo: str) -> BusinessCalendar:
        if repo not in calendars:
            calendars[repo] = BusinessCalendar.from_config(configs(repo).calendar)
        return calendars[repo]

    figures = figures_of(
        result, calendar_for, lambda repo: float(configs(repo).sla.first_response_days)
    )
    text = render(result, figures, seconds, args.format, args.limit)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="what Veilleur would have done over the recorded history (touches no forge)",
    )
    p.add_argument("--org", required=True, help="organisation whose record is replayed")
    p.add_argument("--from", dest="from_", required=True, help="start: YYYY-MM-DD or date-time")
    p.add_argument("--to", required=True, help="end, included: YYYY-MM-DD or date-time")
    p.add_argument("--config", help="veilleur.yml to try (default: the recorded configuration)")
    p.add_argument("--format", choices=("md", "json", "html"), default="md", help="report format")
    p.add_argument("--output", help="write the report to this file instead of stdout")
    p.add_argument("--sweep-minutes", type=int, help="sweep period (default: the setting)")
    p.add_argument("--bot-login", help="Veilleur's login in the record (default: guessed)")
    p.add_argument("--limit", type=int, default=500, help="actions listed in md/html")
    p.set_defaults(func=cmd_replay)
