"""The API budget: what a repository's caches spare, and what forgets them (bot/record/repo_cache.py).

Counted from the simulated forge's request log. bench/api_budget.py replays longer traffic.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

from sqlmodel import Session

from bot.config.loader import CONFIG_PATH
from bot.sim import payloads
from bot.sim.forge import RecordedRequest
from bot.storage.models import ConfigRecord
from handlers import repo_cache
from tests.harness import CITY_CONFIG, City, Harness, is_config_refresh

BODY = "The map page stays blank on mobile since the last update. Could you look? Thank you."
LABEL = "/repos/{owner}/{repo}/labels/{name}"
PROFILE = "/repos/{owner}/{repo}/community/profile"
COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
UNLABEL = "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"


def new_issue(h: Harness, city: City, login: str) -> list[str]:
    """Requests the forge received for one new outside issue by a new person."""
    h.forge.add_user(login)
    start = len(h.forge.requests)
    h.forge.scenario.open_issue(city.repo, login, f"Blank map ({login})", BODY)
    h.wait()
    assert h.failures() == []
    return [f"{r.method} {r.template}" for r in h.forge.requests[start:]]


def test_a_new_outside_issue_in_steady_state(harness: Harness, city: City) -> None:
    first = new_issue(harness, city, "visitor1")
    assert f"GET {LABEL}" in first and f"GET {PROFILE}" in first
    second = new_issue(harness, city, "visitor2")
    assert f"GET {LABEL}" not in second  # label existence cached per repository
    assert f"GET {PROFILE}" not in second  # community profile cached per repository
    assert f"GET {COMMENTS}" not in second  # a fresh issue has no comment to look for
    assert f"POST {COMMENTS}" in second  # the welcome is still posted
    # permission, org membership, profile and partner orgs (GraphQL), first time, labels, welcome
    assert len(second) <= 6, second


def unlabels(r: RecordedRequest) -> bool:
    """A label removed: over REST, or in a GraphQL mutation."""
    query = str((r.request_json or {}).get("query") or "") if r.template == "/graphql" else ""
    return (r.method, r.template) == ("DELETE", UNLABEL) or "removeLabelsFromLabelable" in query


def test_each_event_is_counted_against_itself(harness: Harness, city: City) -> None:
    new_issue(harness, city, "visitor1")  # caches filled: labels, profile, configuration
    scen, forge = harness.forge.scenario, harness.forge
    forge.add_user("visitor2")
    start, first = len(forge.deliveries), len(forge.requests)
    # A maintainer asks a question on the first issue (the turn passes to its author: labels
    # swapped) and, before Veilleur has handled it, a new outside issue arrives.
    scen.comment(city.repo, 1, city.maintainer, "Which phone do you use?")
    scen.open_issue(city.repo, "visitor2", "Blank map again", BODY)
    harness.wait()
    question, opened = harness.sent_since(start)
    echoes = harness.sent_since(start, by_bot=True)
    assert (question.event, opened.event) == ("issue_comment", "issues")
    assert {e.event for e in echoes} >= {"issues", "issue_comment"}  # labels and the welcome
    of_opened = [f"{r.method} {r.template}" for r in harness.requests_of(opened)]
    assert any(map(unlabels, harness.requests_of(question)))
    assert not any(map(unlabels, harness.requests_of(opened)))
    assert f"POST {COMMENTS}" in of_opened and len(of_opened) <= 6, of_opened
    # Every request of the window belongs to exactly one delivery: none lost, none twice.
    each = [harness.requests_of(d) for d in (question, opened, *echoes)]
    arrivals = sorted(r.arrival for reqs in each for r in reqs)
    assert arrivals == sorted(r.arrival for r in forge.requests[first:])
    assert not any(is_config_refresh(r) for r in forge.requests[first:])  # within the TTL


def refreshes(h: Harness, start: int) -> list[str]:
    """The configuration (and template overrides) reads of the deliveries sent since `start`."""
    return [unquote(r.path) for r in h.requests_of(*h.sent_since(start)) if is_config_refresh(r)]


def test_the_configuration_is_read_again_after_an_hour_or_a_push(
    harness: Harness, city: City
) -> None:
    forge = harness.forge
    new_issue(harness, city, "visitor1")
    harness.clock.advance(timedelta(minutes=30))  # past a process's own copy, within the hour
    start = len(forge.deliveries)
    new_issue(harness, city, "visitor2")
    assert refreshes(harness, start) == []
    # A push touching the file: read again at once (by the push's own delivery).
    config = CITY_CONFIG.replace("first_response_days: 2", "first_response_days: 3")
    start = len(forge.deliveries)
    forge.scenario.push_files(city.repo, "main", city.maintainer, {CONFIG_PATH: config})
    harness.wait()
    assert any(p.endswith(CONFIG_PATH) for p in refreshes(harness, start))
    with Session(harness.engine) as s:
        record = s.get(ConfigRecord, city.repo)
        assert record is not None and '"first_response_days":3' in (record.valid_json or "")
    start = len(forge.deliveries)
    new_issue(harness, city, "visitor3")
    # Not read again (the push re-read the org's file too, so the org's template overrides,
    # read from the same repository, may be read once more).
    assert [p for p in refreshes(harness, start) if p.endswith(CONFIG_PATH)] == []
    harness.clock.advance(timedelta(minutes=61))  # VEILLEUR_CONFIG_REFETCH_SECONDS: an hour
    start = len(forge.deliveries)
    new_issue(harness, city, "visitor4")
    assert {p.rsplit("/contents/", 1)[1] for p in refreshes(harness, start)} == {
        CONFIG_PATH,
        ".github/veilleur/templates",
    }


def test_the_turn_moves_its_labels_in_one_request(harness: Harness, city: City) -> None:
    scen, forge = harness.forge.scenario, harness.forge
    first = new_issue(harness, city, "visitor1")  # labels seen or created: their ids kept
    assert f"POST {COMMENTS}" in first
    scen.comment(city.repo, 1, city.maintainer, "Thanks! Which phone do you use?")  # warm-up
    harness.wait()
    scen.comment(city.repo, 1, "visitor1", "A Pixel 7 with Firefox.")
    harness.wait()
    assert "awaiting-maintainer" in harness.labels(city.repo, 1)
    start = len(forge.deliveries)
    # A maintainer asks again: awaiting-maintainer goes, awaiting-author comes (over REST, a
    # `DELETE` and a `POST`).
    scen.comment(city.repo, 1, city.second_maintainer, "And which version of Android?")
    harness.wait()
    (question,) = harness.sent_since(start)
    reqs = [f"{r.method} {r.template}" for r in harness.requests_of(question)]
    assert reqs == ["POST /graphql"], reqs
    labels = harness.labels(city.repo, 1)
    assert "awaiting-author" in labels and "awaiting-maintainer" not in labels
    echoes = {(d.event, d.action) for d in harness.sent_since(start, by_bot=True)}
    assert {("issues", "labeled"), ("issues", "unlabeled")} <= echoes  # as over REST
    assert harness.failures() == []


def test_labels_move_over_rest_when_graphql_refuses_an_id(harness: Harness, city: City) -> None:
    scen, forge = harness.forge.scenario, harness.forge
    new_issue(harness, city, "visitor1")
    scen.comment(city.repo, 1, city.maintainer, "Thanks! Which phone do you use?")
    harness.wait()
    scen.comment(city.repo, 1, "visitor1", "A Pixel 7 with Firefox.")
    harness.wait()
    repo = forge.get_repo(city.repo)
    with forge.lock:  # deleted and made again, no `label` event: the kept node id is stale
        repo.labels.pop("awaiting-author")
        forge.create_label(repo, "awaiting-author", "d4c5f9")
    start = len(forge.deliveries)
    scen.comment(city.repo, 1, city.second_maintainer, "And which version of Android?")
    harness.wait()
    reqs = [f"{r.method} {r.template}" for r in harness.requests_of(*harness.sent_since(start))]
    assert reqs == ["POST /graphql", f"POST {COMMENTS[:-9]}/labels", f"DELETE {UNLABEL}"], reqs
    labels = harness.labels(city.repo, 1)
    assert "awaiting-author" in labels and "awaiting-maintainer" not in labels
    assert harness.failures() == []


def test_a_label_event_forgets_label_existence(harness: Harness, city: City) -> None:
    new_issue(harness, city, "visitor1")
    forge = harness.forge
    # A maintainer deletes `needs-triage`: the `label` event makes Veilleur look again.
    repo = forge.get_repo(city.repo)
    with forge.lock:
        gone = repo.labels.pop("needs-triage")
        name, body = payloads.label_event(forge, repo, gone, city.maintainer)
    forge.emit((name, body | {"action": "deleted"}))
    harness.wait()
    again = new_issue(harness, city, "visitor2")
    assert again.count(f"GET {LABEL}") >= 1
    assert "needs-triage" in repo.labels  # created again, with its colour
    assert repo.labels["needs-triage"].color == "fbca04"


def test_a_push_to_a_profile_file_forgets_the_profile(harness: Harness, city: City) -> None:
    new_issue(harness, city, "visitor1")
    harness.forge.scenario.push_files(city.repo, "main", city.maintainer, {"src/app.js": "x"})
    harness.wait()
    assert f"GET {PROFILE}" not in new_issue(harness, city, "visitor2")
    harness.forge.scenario.push_files(
        city.repo, "main", city.maintainer, {"CONTRIBUTING.md": "# How to help"}
    )
    harness.wait()
    assert f"GET {PROFILE}" in new_issue(harness, city, "visitor3")


def test_push_plan_reads_only_the_default_branch_and_profile_files() -> None:
    def push(ref: str, *paths: str, commits: int = 1) -> dict[str, object]:
        return {
            "ref": ref,
            "repository": {"default_branch": "main"},
            "commits": [{"added": [], "modified": list(paths), "removed": []}] * commits,
        }

    assert repo_cache.plan("push", push("refs/heads/main", "docs/CODE_OF_CONDUCT.md")) == [
        "profile"
    ]
    assert repo_cache.plan("push", push("refs/heads/main", ".github/SUPPORT.md")) == ["profile"]
    assert repo_cache.plan("push", push("refs/heads/main", "src/readme_parser.py")) == []
    assert repo_cache.plan("push", push("refs/heads/fix", "CONTRIBUTING.md")) == []
    assert repo_cache.plan("push", push("refs/heads/main", "a.py", commits=20)) == ["profile"]
    assert repo_cache.plan("label", {"action": "edited"}) == ["labels"]


def test_a_404_when_adding_labels_forgets_them_and_the_retry_looks_again(
    harness: Harness, city: City
) -> None:
    new_issue(harness, city, "visitor1")
    harness.forge.inject("POST", r"/issues/\d+/labels$", status=404)
    harness.forge.add_user("visitor2")
    start = len(harness.forge.requests)
    n = harness.forge.scenario.open_issue(city.repo, "visitor2", "Blank map", BODY)
    harness.wait()
    harness.clock.advance(timedelta(minutes=5))  # the failed delivery's retry is due
    harness.wait()
    seen = [f"{r.method} {r.template}" for r in harness.forge.requests[start:]]
    assert seen.count(f"GET {LABEL}") >= 1  # looked again after the 404
    assert "needs-triage" in harness.labels(city.repo, n)
    assert harness.failures() == []
