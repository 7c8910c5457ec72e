"""`plan_repo`: one repository's SLA decisions from facts alone (no database, no GitHub); its
reminders go out through the organisation's pure plan (`plan_org_reminders`)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config.schema import VeilleurConfig
from bot.effects.actions import AddLabels, SendEmail, UpsertComment, UpsertIssue
from bot.messages.templating import Renderer
from bot.sla.org_plan import plan_org_reminders
from bot.sla.plan import RepoFacts, needs_owners, plan_repo
from bot.storage.models import Item

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
LATER = datetime(2026, 3, 13, 10, tzinfo=UTC)  # nine business days on


def _item(number: int, kind: str = "issue", assignees: list[str] | None = None) -> Item:
    return Item(
        repo_full_name="paris/carto", owner="paris", number=number, kind=kind, title="Carte",
        author_login="alice", author_class="external", created_at=MONDAY,
        assignees=assignees or [],
    )  # fmt: skip


def _facts(*items: Item, owners: dict[int, list[str]] | None = None) -> RepoFacts:
    return RepoFacts(
        full_name="paris/carto", owner="paris", added_at=None, config=VeilleurConfig(),
        items=list(items), entries={}, done={}, mentions={}, at=LATER, bots=["veilleur[bot]"],
        owners=owners or {},
    )  # fmt: skip


def test_an_unanswered_issue_is_labelled_overdue_reminded_and_listed() -> None:
    renderer = Renderer()
    plan = plan_repo(_facts(_item(4)), renderer)
    assert [w.number for w in plan.waiting] == [4] and plan.waiting[0].overdue
    assert AddLabels("paris/carto", 4, ("overdue",)) in plan.actions
    org = plan_org_reminders("paris", [(plan, renderer)], {}, {}, "veilleur[bot]")
    sent = [a for send in org.sends for a in send.actions]
    reminders = [a for a in sent if isinstance(a, UpsertComment)]
    assert len(reminders) == 1 and reminders[0].once and ":reminder:" in reminders[0].once
    assert isinstance(plan.actions[-1], UpsertIssue) and plan.actions[-1].create_if_missing


def test_codeowners_are_asked_only_for_overdue_unassigned_pulls_and_then_responsible() -> None:
    facts = _facts(_item(4), _item(5, "pull"), _item(6, "pull", assignees=["marie"]))
    assert needs_owners(facts) == [5]
    plan = plan_repo(_facts(_item(5, "pull"), owners={5: ["hugo"]}), Renderer())
    assert plan.waiting[0].responsible == ["hugo"]


def test_an_escalation_links_the_item_on_its_own_forge() -> None:
    from dataclasses import replace

    from bot.forge.links import WebLinks
    from bot.forge.names import PULL_NUMBER_BASE

    repo, mr = "127.0.0.1/paris/carto", PULL_NUMBER_BASE + 4
    item = _item(mr, "pull")
    item.repo_full_name, item.owner = repo, "127.0.0.1/paris"
    ref = f"{repo}#{mr}"
    done = {f"sla:{ref}:first_response:reminder:{k}": MONDAY.replace(day=2 + k) for k in (1, 2, 3)}
    facts = replace(
        _facts(item), full_name=repo, owner="127.0.0.1/paris", done=done,
        at=datetime(2026, 3, 20, 10, tzinfo=UTC),
        config=VeilleurConfig.model_validate({"ospo": {"emails": ["ospo@paris.example"]}}),
        links=WebLinks.of("https://github.com", "http://127.0.0.1:8123"),
    )  # fmt: skip
    renderer = Renderer()
    plan = plan_repo(facts, renderer)
    url = "http://127.0.0.1:8123/paris/carto/-/merge_requests/4"
    assert plan.waiting[0].url == url
    org = plan_org_reminders("127.0.0.1/paris", [(plan, renderer)], {}, {}, "veilleur")
    # The escalation is a mail to the OSPO (never a comment on the item): it links the item.
    (mail,) = [a for s in org.sends for a in s.actions if isinstance(a, SendEmail)]
    assert url in mail.text and f"{repo}!4" in mail.text
