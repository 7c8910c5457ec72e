"""The README is the front door: every setting and configuration section is documented."""

from __future__ import annotations

from bot.config import load_default
from bot.settings import Settings
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [
        f"VEILLEUR_{n.upper()}"
        for n in Settings.model_fields
        if f"VEILLEUR_{n.upper()}" not in README
    ]
    assert missing == []


def test_every_config_section_is_in_the_readme() -> None:
    missing = [key for key in load_default() if f"`{key}" not in README]
    assert missing == []


def test_readme_commands_match_ci() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -e '.[test]' && .venv/bin/pytest" in README
    assert "pip install --quiet -e '.[test]' && .venv/bin/pytest" in ci
