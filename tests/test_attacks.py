"""Issue #11: each row an attacker with any GitHub account could try, against the real server on
the simulated forge (the rows about parsers, configuration, replies and copied text).

Each test failed on the code before the fix: the parsers hung (rows 1, 2), the alias bomb was
expanded and never reported (row 3), every refused command got its own reply (row 5), a
failing override failed the delivery (row 8), deep JSON was a 500 (row 9), deep YAML a
RecursionError (row 10), `<pre>` blocks ran commands (row 12), and titles were copied with
their bidirectional controls and live links (row 13).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from bot.messages.templating import T
from tests.harness import City, Harness, template_tag

MAX_COMMENT = 65_536  # GitHub's limit on a comment or body
CONFIG_ERROR = "Veilleur configuration error"
WAITING_TITLE = "Contributions en attente de réponse"  # the city writes French
RLO, ZWSP = "\u202e", "\u200b"


def alias_bomb(levels: int) -> str:
    """A few hundred bytes of YAML that expand to 9**levels values once merged."""
    text = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    previous = "a"
    for name in "bcdefghijk"[: levels - 1]:
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
        previous = name
    return text


def test_row1_backtick_run_cannot_stall_the_worker(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
    harness.wait()
    poison = "see " + "`" * (MAX_COMMENT - 30) + " here\n/label +urgent"
    harness.forge.scenario.comment(city.repo, n, city.maintainer, poison)
    harness.wait(timeout=30)
    assert "urgent" in harness.labels(city.repo, n)
    assert harness.failures() == []


def test_row2_heading_with_spaces_cannot_stall_triage(harness: Harness, city: City) -> None:
    body = "# x" + " " * (MAX_COMMENT - 10) + "#y"
    n = harness.forge.scenario.open_issue(city.repo, city.citizen_en, "Heading", body)
    harness.wait(timeout=30)
    assert "needs-triage" in harness.labels(city.repo, n)
    assert harness.failures() == []


def test_row3_alias_bomb_in_a_pull_request_is_a_config_error(harness: Harness, city: City) -> None:
    bomb = alias_bomb(6)  # 531,441 values from 300 bytes (the landed code expanded them all)
    harness.forge.scenario.open_pull(
        city.repo, city.citizen_en, "Config", "", files={".github/veilleur.yml": bomb}
    )
    harness.wait(timeout=30)
    (run,) = harness.forge.get_repo(city.repo).check_runs
    assert run.conclusion == "failure"
    assert "veilleur.yml:5" in str(run.output) and "aliases count as copies" in str(run.output)
    assert harness.failures() == []


def test_row5_an_outsider_gets_at_most_one_refusal_an_hour(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
    harness.wait()
    before = len(harness.comments(city.repo, n))
    commands = "\n".join(["/label +a", "/assign @alice", "/snooze 3d", "/triage accepted"] * 3)
    for i in range(10):
        harness.forge.scenario.comment(city.repo, n, city.citizen_en, f"{commands}\n/lable {i}")
        harness.wait()
    replies = harness.comments(city.repo, n)[before:]
    assert len(replies) == 1  # the landed code answered each command: 100 comments
    assert replies[0].body.count(template_tag(T.COMMAND_ERROR, "")) == 10  # all refused, in one
    assert "/lable" not in replies[0].body  # unknown, from someone without triage: silence
    harness.clock.set(harness.clock.now() + timedelta(hours=1, minutes=1))
    harness.forge.scenario.comment(city.repo, n, city.citizen_en, "/label +a")
    harness.wait()
    assert len(harness.comments(city.repo, n)[before:]) == 2  # an hour later, one more


def test_row8_broken_override_falls_back_and_is_reported_once(harness: Harness, city: City) -> None:
    harness.forge.add_repo(
        f"{city.org}/.github",
        files={".github/veilleur/templates/en/welcome_issue.md.j2": "Hello\n{{ 1/0 }}\n"},
    )
    first = harness.forge.scenario.open_issue(
        city.repo, city.citizen_en, "Map", "The map of the city does not load on my phone."
    )
    second = harness.forge.scenario.open_issue(
        city.repo, city.citizen_nl, "Map", "The map of the city does not load on my tablet."
    )
    harness.wait()
    assert harness.failures() == []
    for n in (first, second):
        assert "needs-triage" in harness.labels(city.repo, n)
        bodies = [c.body for c in harness.comments(city.repo, n)]
        assert any(template_tag(T.WELCOME_ISSUE, "en") in b for b in bodies)
    (issue,) = harness.issues_titled(city.repo, CONFIG_ERROR)
    assert "welcome_issue.md.j2:2" in issue.body and "division by zero" in issue.body
    assert len(harness.action_keys("override-error:")) == 1


def test_row9_signed_json_nested_too_deep_is_400(harness: Harness) -> None:
    body = ('{"zen": ' + "[" * 5000 + "]" * 5000 + "}").encode()
    secret = harness.forge.webhook_secret.encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }
    url = harness.forge.webhook_url
    assert url is not None
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    assert answer.status_code == 400 and "nested" in answer.text


def test_row10_deeply_nested_yaml_is_a_config_error(harness: Harness, city: City) -> None:
    deep = "language: fr\nareas: " + "[" * 5000 + "]" * 5000 + "\n"
    harness.forge.scenario.push_files(
        city.repo, "main", city.maintainer, {".github/veilleur.yml": deep}, "deep"
    )
    harness.wait()
    assert harness.failures() == []
    (issue,) = harness.issues_titled(city.repo, CONFIG_ERROR)
    assert "veilleur.yml:2" in issue.body and "nested more than" in issue.body


def test_row12_commands_in_pre_blocks_do_not_run(harness: Harness, city: City) -> None:
    n = harness.forge.scenario.open_issue(city.repo, city.citizen_en, "Map", "The map is broken.")
    harness.wait()
    body = "To label, write:\n<pre>\n/label +urgent\n</pre>\nthen <PRE>/label +bug</PRE>\n"
    harness.forge.scenario.comment(city.repo, n, city.maintainer, body)
    harness.wait()
    assert not {"urgent", "bug"} & harness.labels(city.repo, n)


def test_row13_titles_are_copied_without_tricks(harness: Harness, city: City) -> None:
    monday = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
    harness.clock.set(monday)
    title = f"Map {RLO}gnp.exe{ZWSP} see https://evil.example and www.evil.example"
    harness.forge.scenario.open_issue(
        city.repo, city.citizen_en, title, "The map of the city does not load on my phone."
    )
    harness.wait()
    harness.sweep(monday + timedelta(days=1))
    (waiting,) = harness.issues_titled(city.repo, WAITING_TITLE)
    assert "gnp.exe" in waiting.body
    assert RLO not in waiting.body and ZWSP not in waiting.body
    assert "https://evil" not in waiting.body and "www.evil" not in waiting.body
