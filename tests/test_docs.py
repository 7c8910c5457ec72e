"""The README is the front door: every setting and configuration section is documented."""

from __future__ import annotations

from bot.config.loader import load_default
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


def _requirement_names(lock: str) -> set[str]:
    import re

    return {
        _normal(re.split(r"[\[=;\s]", line, maxsplit=1)[0])
        for line in lock.splitlines()
        if line and line[0].isalnum()
    }


def _normal(name: str) -> str:
    """PEP 503 normalised name: `ruamel.yaml` and `ruamel-yaml` are one package."""
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_files_pin_every_dependency_with_hashes() -> None:
    """A dependency added to pyproject.toml without running `.ci/lock` fails here, not in CI's
    `pip install --require-hashes`."""
    import re
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs: list[str]) -> set[str]:
        return {_normal(re.split(r"[\[<>=!~;\s]", r, maxsplit=1)[0]) for r in reqs}

    runtime = (REPO_ROOT / "requirements.lock").read_text()
    test = (REPO_ROOT / "requirements-test.lock").read_text()
    assert names(project["dependencies"]) - _requirement_names(runtime) == set()
    wanted = names(project["dependencies"] + project["optional-dependencies"]["test"])
    assert wanted - _requirement_names(test) == set()
    for lock in (runtime, test):
        pins = [line for line in lock.splitlines() if line and line[0].isalnum()]
        assert pins and all("==" in line for line in pins)
        assert lock.count("--hash=sha256:") >= len(pins)
    shared = _pins(runtime).items() - _pins(test).items()
    assert shared == set(), "the two locks disagree: run .ci/lock"


def _pins(lock: str) -> dict[str, str]:
    import re

    found = {}
    for line in lock.splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^ ;\\]+)", line)
        if match:
            found[_normal(match[1])] = match[2]
    return found


def test_ci_and_the_dockerfile_install_from_the_lock() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet --require-hashes -r requirements-test.lock" in ci
    docker = (REPO_ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in docker
    assert "pip install --no-deps ." in docker
    assert "VOLUME /data" in docker
