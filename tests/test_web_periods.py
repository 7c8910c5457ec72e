"""Dashboard periods (bot/web/periods.py): a week, 4 or 12 weeks, or a custom range of whole
ISO weeks of at most 12, ending by the last complete week."""

from __future__ import annotations

import pytest

from bot.web.periods import BadPeriod, parse_period

LATEST = "2025-W10"


def test_named_periods_end_with_the_latest_or_the_asked_week() -> None:
    week = parse_period({}, LATEST)
    assert (week.kind, week.first, week.last, week.weeks, week.explicit) == (
        "week", LATEST, LATEST, 1, False
    )  # fmt: skip
    four = parse_period({"period": "4w", "week": "2025-W02"}, LATEST)
    assert (four.first, four.last, four.indices()) == ("2024-W51", "2025-W02", (8, 11))
    assert four.query() == {"period": "4w", "week": "2025-W02"}
    assert parse_period({"period": "12w"}, LATEST).indices() == (0, 11)


def test_custom_ranges_cross_years_and_hold_at_most_12_weeks() -> None:
    custom = parse_period({"from": "2024-W51", "to": "2025-W03"}, LATEST)
    assert (custom.kind, custom.weeks, custom.query()) == (
        "custom", 5, {"from": "2024-W51", "to": "2025-W03"}
    )  # fmt: skip
    assert parse_period({"from": "2024-W51"}, LATEST).last == LATEST  # to: the latest week
    assert parse_period({"to": "2025-W03"}, LATEST).weeks == 1  # from: the same week
    assert parse_period({"from": "2024-W51", "to": "2025-W10"}, LATEST).weeks == 12


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ({"from": "2024-W50", "to": "2025-W10"}, "period_error_long"),
        ({"from": "2025-W05", "to": "2025-W04"}, "period_error_range"),
        ({"to": "2025-W11"}, "period_error_range"),
        ({"week": "2025-W11"}, "period_error_range"),
        ({"from": "2025-W99"}, "period_error_week"),
        ({"week": "25-W1"}, "period_error_week"),
        ({"period": "year"}, "period_error_kind"),
    ],
)
def test_bad_periods_say_why(query: dict[str, str], key: str) -> None:
    with pytest.raises(BadPeriod) as caught:
        parse_period(query, LATEST)
    assert caught.value.key == key
