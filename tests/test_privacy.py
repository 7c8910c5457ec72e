"""Personal data (issue #18): erasure leaves no trace and keeps the figures, the export holds
everything a brute-force scan finds, retention reduces payloads and keeps past digests.

The record is filled through the real server: the simulated forge's history imported by the
backfill at installation, live webhooks, and GitHub's real webhook examples (../shared) in
which the example account's user objects are replaced by the person's. The scans here are
independent of bot/privacy: every row of every table, every payload decompressed with lz4.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import lz4.frame
import pytest
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from bot.cli import main
from bot.digest.compute import compute_digest
from bot.digest.period import week_of
from bot.privacy.pseudonyms import Pseudonyms
from bot.sim import Forge
from bot.storage.models import Delivery, DeliveryStatus, Erasure
from tests.conftest import WEBHOOK_EXAMPLES, example_payloads, webhook_headers
from tests.harness import CITY_CONFIG, City, Harness, seed_city

EMAIL = "camille.durand@example.org"
NAME = "Camille Durand"
CONFIG = CITY_CONFIG.replace("partners:\n", "partners:\n  - name: Rennes\n    logins: [jan]\n")
TZ_PARIS = "Europe/Paris"


# -- an independent scan -------------------------------------------------------------------------
def _walk(doc: Any) -> Iterator[dict[str, Any]]:
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


class Needles:
    def __init__(self, login: str, user_id: int, name: str, email: str) -> None:
        self.user_id = user_id
        words = [rf"(?<![\w-]){re.escape(login)}(?![\w-])", re.escape(name), re.escape(email)]
        words += [rf"/u/{user_id}(?!\d)", rf"(?<!\d){user_id}\+"]
        self.text = re.compile("|".join(words), re.IGNORECASE)

    def in_doc(self, doc: Any) -> bool:
        if self.text.search(json.dumps(doc, ensure_ascii=False)):
            return True
        return any(o.get("id") == self.user_id and "login" in o for o in _walk(doc))


def scan_tables(engine: Any, needles: Needles) -> set[tuple[str, str]]:
    """(table, primary key) of every row holding the person, reading every row."""
    found = set()
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                text = {k: v for k, v in row.items() if not isinstance(v, bytes | memoryview)}
                if needles.text.search(json.dumps(text, default=str, ensure_ascii=False)):
                    key = "|".join(str(row[c.name]) for c in table.primary_key.columns)
                    found.add((table.name, key))
    return found


def decompressed(blob: bytes) -> bytes:
    """A stored payload: an lz4 frame, or JSON as is (older rows, reduced payloads)."""
    return lz4.frame.decompress(blob) if blob[:4] == b"\x04\x22\x4d\x18" else blob


def scan_payloads(engine: Any, needles: Needles) -> set[str]:
    found = set()
    with Session(engine) as s:
        for guid, blob in s.execute(select(Delivery.guid, Delivery.payload)):
            if needles.in_doc(json.loads(decompressed(blob))):
                found.add(guid)
    return found


# -- filling the record ----------------------------------------------------------------------------
def as_person(doc: Any, user: dict[str, Any]) -> Any:
    """A real GitHub example with the example account's people objects made the person's,
    sent as a repository webhook (no installation: stored and recorded, no API call)."""
    doc.pop("installation", None)
    for obj in _walk(doc):
        for key, value in list(obj.items()):
            if key in ("repository", "organization", "installation", "owner"):
                continue
            if isinstance(value, dict) and value.get("login") == "Codertocat":
                obj[key] = {**value, **user}
            elif isinstance(value, dict) and value.get("username") == "Codertocat":
                obj[key] = {"name": NAME, "email": EMAIL, "username": user["login"]}
    return doc


def post_real_examples(h: Harness, user: dict[str, Any]) -> int:
    base = h.forge.webhook_url
    assert base is not None
    sent = 0
    with httpx.Client(timeout=30) as client:
        for event, _, path in example_payloads():
            if event not in (
                "issues",
                "issue_comment",
                "pull_request",
                "pull_request_review",
                "push",
            ):
                continue
            body = json.dumps(as_person(json.loads(path.read_text()), user)).encode()
            headers = webhook_headers(event, body, secret=h.forge.webhook_secret)
            assert client.post(base, content=body, headers=headers).status_code in (200, 202)
            sent += 1
    return sent


@pytest.fixture
def city_r(forge: Forge) -> City:
    return seed_city(forge, CONFIG)


def fill(h: Harness, city: City, forge: Forge, *, real: bool = True) -> dict[str, Any]:
    """Camille's history (imported by the backfill), her live activity, GitHub's examples."""
    if not WEBHOOK_EXAMPLES.is_dir():
        pytest.fail(f"{WEBHOOK_EXAMPLES} is missing (the shared test material)")
    sc, repo, who = forge.scenario, city.repo, city.citizen_fr
    user = forge.add_user(who, name=NAME, email=EMAIL, company="Citoyenne")
    forge.webhook_url, url = None, forge.webhook_url  # history before installation
    old = sc.open_issue(repo, who, f"Carte vide, écrit par {NAME}", f"Contact : {EMAIL}")
    sc.comment(repo, old, city.maintainer, f"Merci @{who}, on regarde.")
    forge.webhook_url = url
    h.clock.advance(timedelta(hours=1))
    sc.install(city.org)
    h.wait()
    h.clock.advance(timedelta(hours=1))
    steps = [
        lambda: sc.open_issue(repo, who, "La carte ne s'affiche pas", f"Signé {NAME} <{EMAIL}>"),
        lambda: sc.comment(repo, 2, city.maintainer, f"@{who} quel navigateur ?"),
        lambda: sc.comment(repo, 2, who, "Firefox.\n\n/ready"),
        lambda: sc.open_issue(repo, city.citizen_nl, "Kaart", "De kaart is leeg."),
        lambda: sc.open_issue(repo, city.partner_user, "Carte des écoles", "Pour Lyon."),
        lambda: sc.open_pull(repo, who, "Corrige la carte", "Correctif."),
        lambda: sc.push_to_pull(repo, 5, who, message=f"Fix by {NAME}"),
    ]
    for step in steps:  # distinct instants: the order of a timeline is its times'
        h.clock.advance(timedelta(minutes=5))
        step()
    h.wait()
    if real:
        assert post_real_examples(h, {"login": who, "id": user.id}) > 50
        h.wait()
    h.clock.advance(timedelta(hours=1))
    return {"login": who, "id": user.id}


def figures(h: Harness, city: City) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    now = h.clock.now()
    week = week_of(now, ZoneInfo(TZ_PARIS))
    return compute_digest(h.engine, city.org, week, now=now).to_json()


def counts(d: dict[str, Any]) -> dict[str, Any]:
    m = d["metrics"]
    return {
        "ttfr": m["time_to_first_response"],
        "volume": m["volume"],
        "new": len(m["new_contributors"]),
        "waiting": len(d["waiting"]),
        "contributions": sum(o["contributions"] for o in d["organisations"]),
    }


def cli(capsys: Any, url: str, *args: str) -> str:
    capsys.readouterr()
    assert main(["--database-url", url, "privacy", *args]) == 0
    return str(capsys.readouterr().out)


# -- erasure and export ------------------------------------------------------------------------
def test_erasure_leaves_no_trace_and_keeps_the_figures(
    db_url: str, harness_factory: Any, city: City, forge: Forge, capsys: Any
) -> None:
    h = harness_factory(database_url=db_url)
    person = fill(h, city, forge)
    login, needles = person["login"], Needles(person["login"], person["id"], NAME, EMAIL)
    rows, payloads = scan_tables(h.engine, needles), scan_payloads(h.engine, needles)
    tables = {t for t, _ in rows}
    assert {"items", "timeline", "author_classes"} <= tables, tables
    assert len(payloads) > 50
    before = figures(h, city)
    assert any(w["author"] == login for w in before["waiting"])

    # Export: everything the brute-force scan finds, payloads decompressed.
    export = json.loads(cli(capsys, db_url, "export", login))
    assert person["id"] in export["subject"]["ids"] and EMAIL in export["subject"]["emails"]
    exported = {
        (t, "|".join(str(r[c.name]) for c in SQLModel.metadata.tables[t].primary_key.columns))
        for t, found in export["tables"].items()
        for r in found
    }
    assert rows <= exported
    assert {p["guid"] for p in export["payloads"]} == payloads
    assert all(isinstance(p["payload"], dict) for p in export["payloads"])

    # A dry run changes nothing.
    assert "would change" in cli(capsys, db_url, "erase", login, "--dry-run")
    assert scan_tables(h.engine, needles) == rows

    out = cli(capsys, db_url, "erase", login)
    pseudonym = Pseudonyms.of(h.engine)(login, "erased")
    assert f"pseudonym: {pseudonym}" in out
    assert scan_tables(h.engine, needles) == set()
    assert scan_payloads(h.engine, needles) == set()
    with Session(h.engine) as s:
        (record,) = s.scalars(select(Erasure))
    assert record.command == "veilleur privacy erase" and record.payloads_changed == len(payloads)

    after = figures(h, city)
    assert counts(after) == counts(before)
    assert any(w["author"] == pseudonym for w in after["waiting"])
    assert {o["name"] for o in after["organisations"]} >= {"independent"}  # affiliation forgotten
    assert "citoyenne" not in {o["name"].casefold() for o in after["organisations"]}

    cli(capsys, db_url, "erase", login)  # again: nothing left to do, nothing broken
    assert counts(figures(h, city)) == counts(before)


def test_erasure_refuses_an_installation_owner(sqlite_url: str, capsys: Any) -> None:
    from bot.storage.migrate import upgrade

    upgrade(sqlite_url)
    from bot.storage.db import make_engine
    from bot.storage.models import Installation

    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        s.add(Installation(id=1, account_login="solo", account_type="User"))
        s.commit()
    assert main(["--database-url", sqlite_url, "privacy", "erase", "solo"]) == 2
    assert "uninstall the App" in capsys.readouterr().err


# -- retention ---------------------------------------------------------------------------------------
def test_retention_reduces_payloads_and_keeps_past_digests(
    db_url: str, harness_factory: Any, city_r: City, forge: Forge, capsys: Any
) -> None:
    h = harness_factory(database_url=db_url)
    fill(h, city_r, forge, real=False)
    h.clock.advance(timedelta(hours=2))
    sc = forge.scenario
    second = sc.open_issue(city_r.repo, city_r.citizen_nl, "Kaart 2", "Nog steeds leeg.")
    h.wait()
    for n in (3, second):  # credited to Rennes by the configured login alone, not by a label
        h.clock.advance(timedelta(minutes=5))
        sc.unlabel(city_r.repo, n, city_r.maintainer, "partner: Rennes")
    h.clock.advance(timedelta(minutes=5))
    h.wait()
    assert not any(lbl.startswith("partner") for lbl in h.labels(city_r.repo, second))
    week_at = h.clock.now()
    past = figures(h, city_r)
    assert "Rennes" in {o["name"] for o in past["organisations"]}

    def digest_of_that_week() -> dict[str, Any]:
        from zoneinfo import ZoneInfo

        week = week_of(week_at, ZoneInfo(TZ_PARIS))
        return compute_digest(h.engine, city_r.org, week, now=h.clock.now()).to_json()

    def stored() -> list[tuple[str, bytes]]:
        with Session(h.engine) as s:
            return [(d.status, decompressed(d.payload)) for d in s.scalars(select(Delivery))]

    h.clock.advance(timedelta(days=7))  # that week is now a past one
    snapshot = digest_of_that_week()
    h.clock.advance(timedelta(days=22))
    assert cli(capsys, db_url, "purge", "--at", h.clock.now().isoformat()).startswith(
        "payloads: reduced 0"
    )
    h.clock.advance(timedelta(days=2))
    at = h.clock.now().isoformat()
    dry = cli(capsys, db_url, "purge", "--dry-run", "--at", at)
    assert "payloads: would reduce" in dry and "payloads: would reduce 0 " not in dry
    assert all(body != b"{}" for _, body in stored())
    cli(capsys, db_url, "purge", "--at", at)
    done = [body for status, body in stored() if status == DeliveryStatus.DONE]
    assert done and all(body == b"{}" for body in done)
    assert digest_of_that_week() == snapshot | {
        "generated_at": digest_of_that_week()["generated_at"]
    }

    # Three years later, every login is a pseudonym; that week's figures are the same.
    h.clock.advance(timedelta(days=3 * 365 + 1))
    cli(capsys, db_url, "purge", "--at", h.clock.now().isoformat())
    later = digest_of_that_week()
    name = Pseudonyms.of(h.engine)
    logins = {w["author"] for w in snapshot["waiting"]} | {
        c["login"] for c in snapshot["metrics"]["new_contributors"]
    }
    assert logins and all(name(x) != x for x in logins)
    expected = json.dumps(snapshot)
    for x in sorted(logins, key=len, reverse=True):
        expected = expected.replace(f'"{x}"', f'"{name(x)}"')
    expected_doc = json.loads(expected)
    expected_doc["generated_at"] = later["generated_at"]
    assert later == expected_doc
    assert "Rennes" in {o["name"] for o in later["organisations"]}


def test_recent_payloads_and_active_people_are_kept(
    db_url: str, harness_factory: Any, city: City, forge: Forge
) -> None:
    from bot.privacy.retention import purge

    h = harness_factory(database_url=db_url)
    fill(h, city, forge, real=False)
    report = purge(h.engine, h.clock.now() + timedelta(days=10), payload_days=30, person_days=1095)
    assert (report.payloads, report.people) == (0, [])
    with Session(h.engine) as s:
        assert all(decompressed(d.payload) != b"{}" for d in s.scalars(select(Delivery)))

    # The daily job applies the same rules with the server's clock.
    from bot import periodic as jobs

    assert "privacy-purge" in [name for name, _, _ in jobs.JOBS(h.settings)]
    h.clock.advance(timedelta(days=31))
    h.worker.call(jobs.privacy_purge(h.worker.runtime, h.clock), timeout=60)
    with Session(h.engine) as s:
        done = [d for d in s.scalars(select(Delivery)) if d.status == DeliveryStatus.DONE]
    assert done and all(decompressed(d.payload) == b"{}" for d in done)


# -- pseudonymised and people-free outputs ----------------------------------------------------------
def test_pseudonymised_digest_and_public_dashboard_without_people(
    sqlite_url: str, harness_factory: Any, city: City, forge: Forge, capsys: Any
) -> None:
    from zoneinfo import ZoneInfo

    from bot.storage.models import ConfigRecord

    h = harness_factory(database_url=sqlite_url, public_dashboard=True)
    fill(h, city, forge, real=False)
    week = week_of(h.clock.now(), ZoneInfo(TZ_PARIS))
    base = ["--database-url", sqlite_url, "digest", "--org", city.org, "--week", week]
    base += ["--at", h.clock.now().isoformat()]

    def digest(*args: str) -> str:
        capsys.readouterr()
        assert main([*base, *args]) == 0
        return str(capsys.readouterr().out)

    plain = json.loads(digest("--format", "json"))
    logins = {w["author"] for w in plain["waiting"]}
    assert {city.citizen_fr, city.citizen_nl, city.partner_user} <= logins
    name = Pseudonyms.of(h.engine)
    renamed = json.loads(digest("--format", "json", "--pseudonymise"))
    assert [w["author"] for w in renamed["waiting"]] == [
        name(w["author"]) for w in plain["waiting"]
    ]
    assert renamed["metrics"]["volume"] == plain["metrics"]["volume"]
    assert renamed["organisations"] == plain["organisations"]
    for fmt in ("md", "html", "csv", "json"):
        text = digest("--format", fmt, "--pseudonymise")
        assert name(city.citizen_fr) in text
        assert not re.search(rf"(?<![\w-])({'|'.join(sorted(logins))})(?![\w-])", text), fmt

    # The anonymous public dashboard names nobody, unless the org says so.
    url = str(forge.webhook_url).removesuffix("/webhooks/github")
    with httpx.Client(base_url=url, timeout=30) as client:
        waiting = f"/api/orgs/paris/waiting?week={week}"
        shown = client.get(waiting).json()["items"]
        assert len(shown) == len(plain["waiting"]) and {w["author"] for w in shown} == {""}
        page = client.get(f"/orgs/paris/digest/{week}").text
        assert "Citoyenne".casefold() in page.casefold() or "citoyenne" in page
        assert not re.search(rf"(?<![\w-]){city.citizen_nl}(?![\w-])", page)
        with Session(h.engine) as s:
            for row in s.scalars(select(ConfigRecord)):
                cfg = json.loads(row.valid_json or "{}")
                cfg.setdefault("dashboard", {})["public_people"] = True
                row.valid_json = json.dumps(cfg)
                s.add(row)
            s.commit()
        shown = client.get(waiting).json()["items"]
        assert {w["author"] for w in shown} == logins


# -- /affiliation independent ----------------------------------------------------------------------
def test_affiliation_independent_applies_to_oneself_from_then_on(
    sqlite_url: str, harness_factory: Any, city: City, forge: Forge
) -> None:
    h = harness_factory(database_url=sqlite_url)
    fill(h, city, forge, real=False)
    sc, repo, who = forge.scenario, city.repo, city.citizen_fr
    h.clock.advance(timedelta(minutes=5))
    sc.comment(repo, 2, city.citizen_nl, "/affiliation none")
    h.clock.advance(timedelta(minutes=5))
    sc.comment(repo, 2, who, "/affiliation independent")
    h.wait()  # recorded when carried out
    h.clock.advance(timedelta(minutes=5))
    later = sc.open_issue(repo, who, "Encore la carte", "Toujours vide.")
    h.wait()
    h.clock.advance(timedelta(hours=1))
    assert h.failures() == []
    replies = [c.body for c in h.comments(repo, 2)]
    assert len(replies) == 1 and "independent" in replies[0]  # the typo gets one reply
    d = figures(h, city)
    credited = {w["number"]: w["organisation"] for w in d["waiting"]}
    assert credited[later] == "independent"
    assert credited[2] == "Citoyenne"  # opened before: that week's figures do not change
    assert credited[3] == "independent"  # jan never had a company


def test_the_word_is_independent() -> None:
    word = "un" + "affiliated"  # spelt in two parts so that this file passes its own check
    root = Path(__file__).resolve().parents[1]
    files = [
        p for d in ("templates", "bot", "handlers", "config", "docs") for p in (root / d).rglob("*")
    ]
    files += [root / "README.md"]
    assert [p for p in files if p.is_file() and word in p.read_text(errors="ignore").lower()] == []


def test_published_digest_is_pseudonymised_when_configured(
    harness_factory: Any, city: City, forge: Forge, smtp: Any
) -> None:
    from tests.test_digest_e2e import DIGEST, PUBLISH, TITLE, tick, week_of_contributions

    inbox, port = smtp
    config = CITY_CONFIG + DIGEST + "  pseudonymise: true\n"
    forge.set_file(city.repo, ".github/veilleur.yml", config)
    h = harness_factory(smtp_host="127.0.0.1", smtp_port=port)
    forge.scenario.install(city.org)
    h.wait()
    week_of_contributions(h, city)
    tick(h, PUBLISH)
    (issue,) = h.issues_titled(city.ospo_repo, TITLE)
    (_, mail) = inbox.messages[0]
    mail_text = "\n".join(str(p.get_content()) for p in mail.walk() if not p.is_multipart())
    name = Pseudonyms.of(h.engine)
    for text in (issue.body, mail_text):
        assert name(city.citizen_nl) in text
        for login in (city.citizen_en, city.citizen_nl, city.partner_user):
            assert not re.search(rf"(?<![\w-]){login}(?![\w-])", text), login


def test_a_dead_delivery_redelivered_after_retention_gets_its_payload_back(
    harness_factory: Any, city: City, forge: Forge
) -> None:
    from sqlalchemy import update

    h = harness_factory()
    path = WEBHOOK_EXAMPLES / "issues" / "opened.payload.json"
    body = json.dumps(
        {k: v for k, v in json.loads(path.read_text()).items() if k != "installation"}
    )
    headers = webhook_headers("issues", body.encode(), secret=forge.webhook_secret)
    url = str(forge.webhook_url)
    assert httpx.post(url, content=body, headers=headers).status_code == 202
    h.wait()
    D = Delivery.__table__  # type: ignore[attr-defined]  # noqa: N806
    guid = headers["X-GitHub-Delivery"]
    with h.engine.begin() as conn:  # as if it had died and the retention had reduced it
        conn.execute(update(D).where(D.c.guid == guid).values(status="dead", payload=b"{}"))
    assert httpx.post(url, content=body, headers=headers).status_code == 202
    h.wait()
    with Session(h.engine) as s:
        row = s.get(Delivery, guid)
        assert row is not None and json.loads(decompressed(row.payload)) == json.loads(body)
        assert row.status == DeliveryStatus.DONE
