"""Building an organisation's calendar imports its country's holidays, not all 250 countries'
(bot/lean_holidays.py); the answers are the library's own."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import holidays

from bot.lean_holidays import country_codes

ROOT = Path(__file__).resolve().parents[1]


def test_a_calendar_loads_only_its_own_country() -> None:
    code = (
        "import json, sys\n"
        "from datetime import date\n"
        "from bot.config.schema import VeilleurConfig\n"
        "from bot.sla.calendar import BusinessCalendar\n"
        "config = VeilleurConfig.model_validate({'calendar': {'country': 'BE',"
        " 'subdivision': 'Flemish', 'working_days': ['Paasmaandag']}})\n"
        "cal = BusinessCalendar.from_config(config)\n"
        "assert cal.is_holiday(date(2026, 7, 11)) and not cal.is_holiday(date(2026, 4, 6))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('holidays.countries.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == ["holidays.countries.belgium"], out.stderr


def test_the_same_countries_and_days_as_the_library() -> None:
    assert country_codes() == set(holidays.list_supported_countries())
    from holidays.countries import France  # a name of the package, from the registry

    assert dict(France(years=2026)) == dict(holidays.country_holidays("FR", years=2026))
    assert date(2026, 7, 14) in France(years=2026)
