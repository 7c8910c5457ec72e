# SPDX-License-Identifier: EUPL-1.2
"""docs/deploy.md cannot rot: every `veilleur` command in it is accepted by the real command
line, the blocks marked `<!-- run -->` run as written (backup, then restore), the example
configuration and alert rules are valid, and the files it points to say what it says."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase
from ruamel.yaml import YAML

from bot import prometheus as metrics
from bot.cli.commands import build_parser
from bot.config.loader import check_file
from tests.conftest import REPO_ROOT

GUIDE = (REPO_ROOT / "docs" / "deploy.md").read_text()
FENCE = re.compile(r"(<!-- run -->\n)?```(\w+)\n(.*?)```", re.S)
BLOCKS = [(bool(run), lang, body) for run, lang, body in FENCE.findall(GUIDE)]
TODAY = "$(date +%F)"


def _blocks(lang: str) -> list[str]:
    return [body for _, kind, body in BLOCKS if kind == lang]


def _commands(text: str) -> list[list[str]]:
    lines = [line.strip() for line in text.splitlines()]
    return [shlex.split(line.replace(TODAY, "2026-12-04")) for line in lines if line]


def _parses(argv: list[str]) -> None:
    assert argv[0].endswith("veilleur"), argv
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"the guide's command is refused: {shlex.join(argv)}")


def test_every_veilleur_command_of_the_guide_is_accepted() -> None:
    found = [argv for body in _blocks("sh") for argv in _commands(body) if argv[0] == "veilleur"]
    assert len(found) >= 6
    for argv in found:
        _parses(argv)


def test_the_blocks_marked_run_run_as_written(tmp_path: Path) -> None:
    """In a scratch folder standing for /var/lib/veilleur; `systemctl` is a stub that records
    its calls. Between the backup and the restore, a row is written: the restore drops it."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "systemctl").write_text('#!/bin/sh\necho "$*" >> "$CALLS"\n')
    (stubs / "systemctl").chmod(0o755)
    work = tmp_path / "state"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{stubs}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "VEILLEUR_DATABASE_URL": "sqlite:///veilleur.db",
    }
    run_blocks = [body for run, lang, body in BLOCKS if run and lang == "sh"]
    assert len(run_blocks) == 3  # upgrade; backup; restore
    for index, body in enumerate(run_blocks):
        if index == 2:  # after the backup: a change the restore must undo
            with sqlite3.connect(work / "veilleur.db") as conn:
                conn.execute(
                    "INSERT INTO repositories (id, full_name, owner, private) VALUES (7, 'v/after', 'v', 0)"
                )
        done = subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-euo", "pipefail", "-c", body],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{body}\n{done.stdout}\n{done.stderr}"
    assert (work / "backups" / f"veilleur-{date.today():%Y-%m-%d}.db").exists()
    with sqlite3.connect(work / "veilleur.db") as conn:
        assert conn.execute("SELECT count(*) FROM repositories").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    assert (tmp_path / "calls").read_text().split("\n")[:2] == ["stop veilleur", "start veilleur"]


def test_the_organisation_configuration_example_is_valid(tmp_path: Path) -> None:
    (example,) = [body for body in _blocks("yaml") if "partners:" in body]
    path = tmp_path / "veilleur.yml"
    path.write_text(example)
    assert check_file(path) == []
    assert "internal: true" in example and "closures:" in example


def _exported() -> dict[str, set[str]]:
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            name = value._name  # counters are exported with _total
            suffix = "_total" if value._type == "counter" else ""
            found[name + suffix] = set(value._labelnames)
    return found


def test_the_alert_rules_use_metrics_veilleur_exports() -> None:
    (rules_text,) = [body for body in _blocks("yaml") if "groups:" in body]
    rules = YAML(typ="safe").load(rules_text)["groups"][0]["rules"]
    exported = _exported()
    names = {rule["alert"] for rule in rules}
    wanted = {"VeilleurDeliveriesFailing", "VeilleurDeliveriesDead", "VeilleurQueueOld"}
    assert wanted | {"VeilleurRateLimited"} <= names
    for rule in rules:
        for name, labels in re.findall(r"(veilleur_\w+)(?:\{([^}]*)\})?", rule["expr"]):
            assert name in exported, name
            for label in re.findall(r"(\w+)=", labels):
                assert label in exported[name], (name, label)


def test_the_proxy_examples_allow_webhooks() -> None:
    (caddy,) = _blocks("caddy")
    (nginx,) = _blocks("nginx")
    assert "max_size 25MB" in caddy and "reverse_proxy 127.0.0.1:8000" in caddy
    assert "client_max_body_size 25m;" in nginx and "proxy_read_timeout" in nginx
    assert "proxy_pass http://127.0.0.1:8000;" in nginx


def test_the_systemd_unit() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO_ROOT / "docs" / "veilleur.service")
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    _parses(argv)
    assert argv[1:] == ["serve"]
    assert service["EnvironmentFile"] == "/etc/veilleur/veilleur.env"
    assert service["User"] == "veilleur" and unit["Install"]["WantedBy"] == "multi-user.target"
    assert "cp docs/veilleur.service /etc/systemd/system/veilleur.service" in GUIDE


def test_compose_reads_every_secret_from_the_env_file() -> None:
    compose = YAML(typ="safe").load((REPO_ROOT / "docker-compose.yml").read_text())
    assert {"postgres", "migrate", "web1", "web2", "worker"} <= set(compose["services"])
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|KEY|DATABASE_URL", key):
                assert "${" in str(value), f"{name}: {key} is written in the file"
        if name != "postgres":
            assert service["env_file"] == [".env"]
            _parses(service["command"])
    docker = (REPO_ROOT / "Dockerfile").read_text()
    assert 'CMD ["veilleur", "serve"]' in docker and "VOLUME /data" in docker
