"""One OSPO over both forges: Paris's GitHub organisation names the GitLab group of Gent in
`ospo.members`, and Paris's digest and dashboard cover Gent's project too. Only the OSPO organisation's own
file says so: a repository cannot add owners to an OSPO's view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bot.config.schema import Ospo
from bot.digest.compute import compute_digest
from bot.digest.render import email_data, render_digest
from bot.messages.templating import Renderer, T
from bot.resources import templates_dir
from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab import items as gl
from bot.web.access import known_repos
from tests.harness import CITY_CONFIG, City, Harness, seed_city

C = City()
GENT = "stad-gent"
PROJECT = f"{GENT}/lutece-gent"
MEMBERS = "  members: [127.0.0.1/stad-gent]\n"  # under `ospo:`, the last section of CITY_CONFIG
CONSENT = "ospo:\n  shared_with: [Paris]\n"  # Gent's own file (gitlab-profile): Paris may


@pytest.mark.parametrize(
    "owner", ["ville-de-lyon", "127.0.0.1/stad-gent", "gitlab.example.org/city/sub.group"]
)
def test_members_are_organisations_or_forge_qualified_groups(owner: str) -> None:
    assert Ospo(members=[owner]).members == [owner]


@pytest.mark.parametrize(
    "owner", ["stad gent", "gitlab.example.org", "https://gitlab.com/gent", "a/b", "x" * 201]
)
def test_other_owner_names_are_refused(owner: str) -> None:
    with pytest.raises(ValidationError):
        Ospo(members=[owner])


def test_a_pull_request_adding_members_to_a_repository_file_fails_its_check() -> None:
    """The check run on a configuration change says so, on its line; the org's file may."""
    from handlers.config_watch import file_errors

    text = "language: nl\nospo:\n" + MEMBERS
    (error,) = file_errors(C.repo, text)
    assert (error.line, error.path) == (3, "ospo.members") and "organisation" in error.message
    assert file_errors(f"{C.org}/.github", text) == []
    assert file_errors("127.0.0.1/stad-gent/gitlab-profile", text) == []


def test_a_repository_cannot_consent_for_its_owner() -> None:
    """`ospo.shared_with` is the owner's decision too: in a repository's own file, an error."""
    from handlers.config_watch import file_errors

    text = "language: nl\nospo:\n  team: '@gent/ospo'\n  shared_with: [paris]\n"
    (error,) = file_errors(PROJECT, text)
    assert (error.line, error.path) == (4, "ospo.shared_with") and "owner" in error.message
    assert file_errors("127.0.0.1/stad-gent/gitlab-profile", text) == []
    assert Ospo(shared_with=["Paris", "127.0.0.1/stad-gent"]).shared_with[0] == "Paris"
    with pytest.raises(ValidationError):
        Ospo(shared_with=["a/b"])


def both_forges(
    harness_factory: Any, forge: Any, world: GitLabWorld, request: Any, monkeypatch: Any,
    org_file: str, repo_file: str, gent_file: str | None = CONSENT, **settings: Any,
) -> Harness:  # fmt: skip
    """Paris on the simulated GitHub (its org file and lutece-core's own file as given), Gent
    on the simulated GitLab (its own file, in its `gitlab-profile`, as given: by default it
    names Paris in `ospo.shared_with`), one Veilleur watching both."""
    seed_city(forge, repo_file)
    forge.add_repo(f"{C.org}/.github", files={".github/veilleur.yml": org_file})
    server = GitLabServer(world).start()
    request.addfinalizer(server.stop)
    for login in ("pieter", "sanne"):
        world.add_user(login)
    world.add_group(GENT)
    gent_config = "language: nl\ncalendar:\n  timezone: Europe/Brussels\n  country: BE\n"
    world.add_project(PROJECT, files={".gitlab/veilleur.yml": gent_config, "README.md": "# Gent\n"})
    if gent_file is not None:
        world.add_project(f"{GENT}/gitlab-profile", files={".gitlab/veilleur.yml": gent_file})
    world.add_member(GENT, world.bot["username"], 40)
    world.add_member(PROJECT, "pieter", 40)
    monkeypatch.setenv("VEILLEUR_GITLAB_URL", server.url)
    monkeypatch.setenv("VEILLEUR_GITLAB_TOKEN", world.api_token)
    monkeypatch.setenv("VEILLEUR_GITLAB_WEBHOOK_SECRET", world.webhook_token)
    h = harness_factory(**settings)
    world.webhook_url = forge.webhook_url.replace("/webhooks/github", "/webhooks/gitlab")
    forge.scenario.install(C.org)
    h.wait()
    return h


def story(h: Harness, forge: Any, world: GitLabWorld) -> dict[str, Any]:
    """An issue waits on each forge; Paris's digest of that week, a week later."""
    forge.scenario.open_issue(C.repo, C.citizen_fr, "Carte", "La carte ne s'affiche pas du tout.")
    gl.open_issue(world, PROJECT, "sanne", "Kaart laadt niet", "De kaart laadt niet op mijn gsm.")
    for _ in range(3):
        world.sender.settle()
        h.wait()
    assert h.failures() == []
    now = h.clock.now() + timedelta(days=7)
    return compute_digest(h.engine, C.org, None, now=now).to_json()


def test_the_ospo_digest_covers_its_gitlab_member(
    harness_factory: Any, forge: Any, gitlab_world: GitLabWorld, request: Any, monkeypatch: Any
) -> None:
    h = both_forges(
        harness_factory, forge, gitlab_world, request, monkeypatch, CITY_CONFIG + MEMBERS, ""
    )
    digest = story(h, forge, gitlab_world)
    gent = f"127.0.0.1/{PROJECT}"
    waiting = {(w["repo"], w["title"]) for w in digest["waiting"]}
    assert {(C.repo, "Carte"), (gent, "Kaart laadt niet")} <= waiting
    repos = {r["repo"] for r in digest["repositories"]}
    assert {C.repo, gent} <= repos
    assert digest["scope"] == {"members": [f"127.0.0.1/{GENT}"], "members_left_out": 0}
    text = " ".join(rendered_digest(h).split())
    assert f"Also covers the repositories of 127.0.0.1/{GENT} (`ospo.members`" in text
    assert "Not included" not in text
    assert f"Also covers the repositories of 127.0.0.1/{GENT} (<code>ospo.members</code>" in text
    # Gent's own digest is Gent's alone: membership is one way
    week_later = h.clock.now() + timedelta(days=7)
    alone = compute_digest(h.engine, f"127.0.0.1/{GENT}", None, now=week_later).to_json()
    assert {w["repo"] for w in alone["waiting"]} == {gent}


def rendered_digest(h: Harness, lang: str = "en") -> str:
    """Paris's digest of the story's week, as its issue (Markdown), its mail and its HTML
    report say it."""
    digest = compute_digest(h.engine, C.org, None, now=h.clock.now() + timedelta(days=7))
    mail = Renderer(templates_dir()).render(T.DIGEST_EMAIL, lang, **email_data(digest))
    return render_digest(digest, "md", lang) + mail.text + render_digest(digest, "html", lang)


def test_a_repository_cannot_add_members_to_its_ospo(
    harness_factory: Any, forge: Any, gitlab_world: GitLabWorld, request: Any, monkeypatch: Any
) -> None:
    """lutece-core's own file lists Gent: an error on its line (the configuration error issue),
    and not honoured; only the org file (`paris/.github`) counts."""
    h = both_forges(
        harness_factory, forge, gitlab_world, request, monkeypatch, CITY_CONFIG,
        "ospo:\n" + MEMBERS,
    )  # fmt: skip
    files = {".github/veilleur.yml": "ospo:\n" + MEMBERS}  # pushed: the file is checked
    forge.scenario.push_files(C.repo, "main", C.maintainer, files)
    h.wait()
    digest = story(h, forge, gitlab_world)
    assert {w["repo"] for w in digest["waiting"]} == {C.repo}
    assert C.repo in {r["repo"] for r in digest["repositories"]}
    assert not [r for r in digest["repositories"] if r["repo"].startswith("127.0.0.1/")]
    (issue,) = h.issues_titled(C.repo, "Veilleur configuration error")
    assert "veilleur.yml:2" in issue.body and "ospo.members" in issue.body


def test_the_ospo_dashboard_lists_its_members_projects(
    harness_factory: Any, forge: Any, gitlab_world: GitLabWorld, request: Any, monkeypatch: Any
) -> None:
    """On the public dashboard (a scoped view: public repositories only), Paris's pages list
    Gent's GitLab project beside its own and open its pages; Gent's page stays Gent's."""
    h = both_forges(
        harness_factory, forge, gitlab_world, request, monkeypatch, CITY_CONFIG + MEMBERS, "",
        public_dashboard=True,
    )  # fmt: skip
    story(h, forge, gitlab_world)
    h.clock.set(h.clock.now() + timedelta(days=8))  # the week is complete
    gent = f"127.0.0.1/{PROJECT}"
    web = TestClient(h.app)
    page = web.get(f"/orgs/{C.org}")
    assert page.status_code == 200
    assert f"{gent}#1" in page.text and f"{C.repo}#1" in page.text
    assert f'href="/orgs/{C.org}/repos/{gent}"' in page.text
    assert web.get(f"/orgs/{C.org}/repos/{gent}").status_code == 200
    assert web.get(f"/orgs/{C.org}/items/{gent}/1").status_code == 200
    assert web.get(f"/orgs/{C.org}/items/{gent}/2").status_code == 404
    waiting = web.get(f"/api/orgs/{C.org}/waiting").json()["items"]
    urls = {w["url"] for w in waiting}
    assert f"{gitlab_world.url.rstrip('/')}/{PROJECT}/-/issues/1" in urls  # on its own forge
    theirs = web.get("/orgs/127.0.0.1~stad-gent")
    assert theirs.status_code == 200 and C.repo not in theirs.text
    # The list of organisations counts what the org's pages and digest hold: Paris's own
    # repositories and Gent's projects (lutece-gent and its gitlab-profile); Gent's entry
    # counts Gent's alone.
    shown = {r["repo"] for r in web.get(f"/api/orgs/{C.org}/digest").json()["repositories"]}
    assert gent in shown
    orgs = {o["org"]: o for o in web.get("/api/orgs").json()}
    paris_own = len([r for r in known_repos(h.engine, C.org) if not r.private])
    gent_own = len(known_repos(h.engine, f"127.0.0.1/{GENT}"))
    assert gent_own >= 1 and orgs[f"127.0.0.1/{GENT}"]["repositories"] == gent_own
    both = paris_own + gent_own
    assert orgs[C.org]["repositories"] == both
    home = " ".join(web.get("/").text.split())  # the overview's card says the same
    card = f'<span class="org-name">{C.org}</span> <span class="muted">{both} repositories'
    assert card in home


NO_CONSENT = {
    "no own file": None,
    "shared_with left out": "language: nl\n",
    "shared with another OSPO": "ospo:\n  shared_with: [ville-de-lyon]\n",
}


@pytest.mark.parametrize("gent_file", NO_CONSENT.values(), ids=NO_CONSENT.keys())
def test_a_member_that_has_not_consented_is_left_out_everywhere(
    harness_factory: Any, forge: Any, gitlab_world: GitLabWorld, request: Any, monkeypatch: Any,
    gent_file: str | None,
) -> None:  # fmt: skip
    """Paris lists Gent in `ospo.members`, but Gent's own file does not name Paris in
    `ospo.shared_with`: Gent's project is in none of Paris's digest, pages and counts, and
    `veilleur doctor` and Paris's page say why."""
    from bot.doctor.local import check_ospo_members

    h = both_forges(
        harness_factory, forge, gitlab_world, request, monkeypatch, CITY_CONFIG + MEMBERS, "",
        gent_file=gent_file, dashboard_open=True,
    )  # fmt: skip
    digest = story(h, forge, gitlab_world)
    gent = f"127.0.0.1/{PROJECT}"
    assert {w["repo"] for w in digest["waiting"]} == {C.repo}
    # the digest says its scope is short of one listed owner, without naming it: it may be
    # published where anybody reads it (the doctor and signed-in pages name it, below)
    assert digest["scope"] == {"members": [], "members_left_out": 1}
    text = " ".join(rendered_digest(h).split())
    assert text.count("Not included, for not naming this organisation in their own") == 3
    assert "1 owner listed in `ospo.members` (`veilleur doctor` names them)" in text
    assert GENT not in text and "Also covers" not in text
    assert not [r for r in digest["repositories"] if r["repo"].startswith("127.0.0.1/")]
    h.clock.set(h.clock.now() + timedelta(days=8))
    web = TestClient(h.app)
    page = web.get(f"/orgs/{C.org}?lang=en")
    assert page.status_code == 200 and f"{C.repo}#1" in page.text and gent not in page.text
    assert web.get(f"/orgs/{C.org}/repos/{gent}").status_code == 404
    assert web.get(f"/orgs/{C.org}/items/{gent}/1").status_code == 404
    shown = {r["repo"] for r in web.get(f"/api/orgs/{C.org}/digest").json()["repositories"]}
    assert C.repo in shown and gent not in shown
    orgs = {o["org"]: o for o in web.get("/api/orgs").json()}
    assert orgs[C.org]["repositories"] == len(known_repos(h.engine, C.org))
    note = (
        f"127.0.0.1/{GENT} is listed in ospo.members but has not named {C.org} in its "
        "ospo.shared_with; its repositories are not included"
    )
    check = check_ospo_members(h.engine)
    assert check.status == "fail" and note in check.detail and "shared_with" in (check.fix or "")
    assert note in " ".join(page.text.split())
    # Gent's own pages are Gent's, as ever
    assert web.get("/orgs/127.0.0.1~stad-gent").status_code == 200


def test_doctor_says_when_every_listed_member_consents(
    harness_factory: Any, forge: Any, gitlab_world: GitLabWorld, request: Any, monkeypatch: Any
) -> None:
    from bot.doctor.local import check_ospo_members

    h = both_forges(
        harness_factory, forge, gitlab_world, request, monkeypatch, CITY_CONFIG + MEMBERS, "",
        dashboard_open=True,
    )  # fmt: skip
    story(h, forge, gitlab_world)
    check = check_ospo_members(h.engine)
    assert check.status == "ok" and f"{C.org}: 127.0.0.1/{GENT}" in check.detail
    h.clock.set(h.clock.now() + timedelta(days=8))
    page = TestClient(h.app).get(f"/orgs/{C.org}?lang=en")
    assert page.status_code == 200 and f"127.0.0.1/{PROJECT}#1" in page.text
    assert "ospo.shared_with" not in page.text


def test_a_members_contributors_stay_hidden_unless_it_opts_in_too(
    harness_factory: Any, forge: Any, gitlab_world: GitLabWorld, request: Any, monkeypatch: Any
) -> None:
    """Paris shows people on its public dashboard (`dashboard.public_people`); Gent did not
    say so: on Paris's public pages, which hold Gent's project, nobody is named."""
    paris = CITY_CONFIG.replace("ospo:\n", "dashboard:\n  public_people: true\nospo:\n")
    h = both_forges(
        harness_factory, forge, gitlab_world, request, monkeypatch, paris + MEMBERS, "",
        public_dashboard=True,
    )  # fmt: skip
    story(h, forge, gitlab_world)
    h.clock.set(h.clock.now() + timedelta(days=8))
    page = TestClient(h.app).get(f"/orgs/{C.org}")
    assert page.status_code == 200 and f"127.0.0.1/{PROJECT}#1" in page.text
    assert "sanne" not in page.text and C.citizen_fr not in page.text


def test_a_member_is_included_once_it_consents_and_left_out_once_it_withdraws(
    harness_factory: Any, forge: Any, gitlab_world: GitLabWorld, request: Any, monkeypatch: Any
) -> None:
    """Gent's own file first says nothing of Paris; then it names Paris (read again once its
    configuration is, here after `VEILLEUR_CONFIG_REFETCH_SECONDS` and a new issue), and
    Paris's digest and counts take Gent in; then it withdraws, and they leave Gent out."""
    h = both_forges(
        harness_factory, forge, gitlab_world, request, monkeypatch, CITY_CONFIG + MEMBERS, "",
        gent_file="language: nl\n", dashboard_open=True, config_refetch_seconds=60,
        config_cache_seconds=0,
    )  # fmt: skip
    gent = f"127.0.0.1/{PROJECT}"
    profile = gitlab_world.projects[f"{GENT}/gitlab-profile"].files
    web = TestClient(h.app)

    def paris_covers_gent(title: str) -> bool:
        h.clock.set(h.clock.now() + timedelta(minutes=5))  # past the configuration's TTL
        gl.open_issue(gitlab_world, PROJECT, "sanne", title, "De kaart laadt niet op mijn gsm.")
        gitlab_world.sender.settle()
        h.wait()
        assert h.failures() == []
        digest = compute_digest(h.engine, C.org, None, now=h.clock.now() + timedelta(days=7))
        covered = gent in {r["repo"] for r in digest.to_json()["repositories"]}
        orgs = {o["org"]: o for o in web.get("/api/orgs").json()}
        counted = orgs[C.org]["repositories"] > len(known_repos(h.engine, C.org))
        assert covered == counted
        return covered

    story(h, forge, gitlab_world)  # an issue on each forge: both configurations are read
    assert not paris_covers_gent("Eerste")
    profile[".gitlab/veilleur.yml"] = CONSENT
    assert paris_covers_gent("Tweede")
    profile[".gitlab/veilleur.yml"] = "language: nl\nospo:\n  shared_with: []\n"
    assert not paris_covers_gent("Derde")


def test_consent_is_the_owners_latest_clean_reading(tmp_path: Any) -> None:
    """Every stored configuration of Gent's repositories carries its own file's
    `ospo.shared_with` as of its reading: the latest reading without errors decides, even over
    an older record of the gitlab-profile itself; a reading with errors (which keeps an older
    configuration) and a subgroup's repositories do not."""
    import json

    from sqlmodel import Session

    from bot.config.schema import VeilleurConfig
    from bot.digest.ospo import consents
    from bot.storage.db import make_engine
    from bot.storage.migrate import upgrade
    from bot.storage.models import ConfigRecord

    url = f"sqlite:///{tmp_path}/consent.db"
    upgrade(url)
    engine = make_engine(url)
    owner = f"127.0.0.1/{GENT}"
    from datetime import UTC, datetime

    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)

    def read(repo: str, minutes: int, shared: list[str], errors: bool = False) -> None:
        config = VeilleurConfig.model_validate({"ospo": {"shared_with": shared}})
        found = [{"file": "x", "line": 1, "column": 1, "path": "x", "message": "bad"}]
        record = ConfigRecord(
            repo_full_name=f"{owner}/{repo}".lower(),
            fetched_at=t0 + timedelta(minutes=minutes),
            valid_json=config.model_dump_json(by_alias=True),
            errors_json=json.dumps({"errors": found if errors else [], "sources": []}),
        )
        with Session(engine) as session:
            session.merge(record)
            session.commit()

    read("gitlab-profile", 0, [])
    assert not consents(engine, owner, "paris")
    read("lutece-gent", 10, ["Paris"])  # Gent's file now names Paris, read for its project
    assert consents(engine, owner, "paris")
    read("gitlab-profile", 20, [])  # and withdrawn
    assert not consents(engine, owner, "PARIS")
    read("lutece-gent", 30, ["paris"], errors=True)  # an older configuration kept
    read("sub/kaart", 40, ["paris"])  # a subgroup's own file
    assert not consents(engine, owner, "paris")
    engine.dispose()
