"""Configuration bounds: alias bombs, deep nesting and huge files are config errors with a line,
found before anything is merged, in time that grows linearly with the file."""

from __future__ import annotations

import pytest

from bot.config.bounds import MAX_DEPTH, too_deep_line
from bot.config.loader import check_file, parse_config_text
from tests.linearity import assert_linear
from tests.test_attacks import alias_bomb


def test_alias_bomb_is_an_error_at_its_line() -> None:
    text = "welcome:\n  enabled: true\n" + alias_bomb(10)  # 9**10 values once expanded
    data, errors = parse_config_text(text, ".github/veilleur.yml")
    assert data == {}
    (error,) = errors
    assert (error.file, error.line, error.path) == (".github/veilleur.yml", 7, "e")
    assert "aliases count as copies" in error.message


def test_small_aliases_are_fine() -> None:
    text = "areas:\n  keywords:\n    - &k {label: carte, words: {fr: [carte]}}\n    - *k\n"
    assert parse_config_text(text, "f.yml")[1] == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("language: fr\nareas: " + "[" * 5000 + "]" * 5000, 2),
        ("a: &x" + "{" * 40, 1),
        ("".join("  " * i + f"k{i}:\n" for i in range(40)), MAX_DEPTH + 1),
        ("- " * 40 + "x", 1),
    ],
)
def test_deep_nesting_is_an_error_at_its_line(text: str, line: int) -> None:
    (error,) = parse_config_text(text, "f.yml")[1]
    assert error.line == line and "nested more than" in error.message


@pytest.mark.parametrize(
    "text",
    [
        "a: 'it''s [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['",
        "c: don't " + "[" * 40,
        'b: [x, "' + "[" * 40 + '"]',
        "a: [" + "[a], " * 100 + "]",
        "# " + "[" * 40,
    ],
)
def test_brackets_in_text_are_not_nesting(text: str) -> None:
    assert too_deep_line(text) is None


def test_huge_file_is_an_error(tmp_path: object) -> None:
    (error,) = parse_config_text("a: " + "x" * (1024 * 1024), "f.yml")[1]
    assert error.line == 1 and "larger than" in error.message


def test_config_check_command_reports_the_bound(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "veilleur.yml"
    path.write_text("labels:\n" + alias_bomb(6), encoding="utf-8")
    (error,) = check_file(path)
    assert error.line == 6 and "aliases count as copies" in error.message


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "a: " + "[" * n,
        lambda n: "a: " + "[x, " * (n // 4),
        lambda n: "- " * (n // 2),
    ],
)
def test_config_parsing_takes_linear_time(make: object) -> None:
    assert_linear(lambda text: parse_config_text(text, "f.yml"), make)  # type: ignore[arg-type]
