"""The scenario driver: things people do on the forge, each followed by its webhooks.

Every method changes the state, then POSTs the webhook(s) GitHub would send, from the calling
thread, and returns once the bot answered them and once the webhooks caused by the bot's own
REST calls were delivered too (`forge.settle()`). The bot must therefore run in another thread
(e.g. its own uvicorn server), never in the thread that drives the scenario.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from bot.sim import payloads, shapes
from bot.sim.models import FileChange
from bot.sim.payloads import Event

if TYPE_CHECKING:
    from bot.sim.forge import Forge

Files = Sequence[str | FileChange] | Mapping[str, str | None]


def _changes(files: Files) -> list[FileChange]:
    """Filenames, FileChange records, or {path: new text (None: deleted)}."""
    if isinstance(files, Mapping):
        return [
            FileChange(path, "removed", 0, 1) if text is None
            else FileChange(path, "modified", text.count("\n") + 1, 0, content=text)
            for path, text in files.items()
        ]  # fmt: skip
    return [f if isinstance(f, FileChange) else FileChange(f) for f in files]


class Scenario:
    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    def _send(self, events: Iterable[Event]) -> None:
        self.forge.settle()
        for event in events:
            self.forge.emit(event)
        self.forge.settle()

    # -- issues ----------------------------------------------------------------------------
    def open_issue(
        self,
        repo: str,
        login: str,
        title: str,
        body: str | None = "",
        *,
        labels: Sequence[str] = (),
        assignees: Sequence[str] = (),
    ) -> int:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.create_issue(r, login, title, body, labels=labels, assignees=assignees)
            events = payloads.opened(f, r, item, login)
        self._send(events)
        return item.number

    def edit_issue(
        self,
        repo: str,
        number: int,
        login: str,
        *,
        title: str | None = None,
        body: str | None = None,
    ) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_issue(r, number)
            changes = f.edit_issue(item, title=title, body=body)
            event = payloads.item_event(f, r, item, "edited", login, changes=changes)
        self._send([event] if changes else [])

    def comment(self, repo: str, number: int, login: str, body: str) -> int:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            created = f.add_comment(r, f.get_issue(r, number), login, body)
            event = payloads.comment_event(f, r, created, "created", login)
        self._send([event])
        return created.id

    def edit_comment(
        self, repo: str, comment_id: int, body: str, *, login: str | None = None
    ) -> None:
        """`login`: who edits (default: the author; maintainers may edit others' comments)."""
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            found = f.get_comment(r, comment_id)
            before = f.edit_comment(found, body)
            event = payloads.comment_event(
                f, r, found, "edited", login or found.user, {"body": {"from": before}}
            )
        self._send([event])

    def label(self, repo: str, number: int, login: str, *names: str) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_issue(r, number)
            events = [
                payloads.labeled(f, r, item, lab, login)
                for lab in f.add_labels(r, item, names, actor=login)
            ]
        self._send(events)

    def unlabel(self, repo: str, number: int, login: str, *names: str) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_issue(r, number)
            removed = [f.remove_label(r, item, n, actor=login) for n in names]
            events = [payloads.labeled(f, r, item, lab, login, "unlabeled") for lab in removed]
        self._send(events)

    def assign(self, repo: str, number: int, login: str, *assignees: str) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_issue(r, number)
            added = f.add_assignees(r, item, assignees, actor=login)
            events = [payloads.assigned(f, r, item, a, login) for a in added]
        self._send(events)

    def unassign(self, repo: str, number: int, login: str, *assignees: str) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_issue(r, number)
            removed = f.remove_assignees(r, item, assignees, actor=login)
            events = [payloads.assigned(f, r, item, a, login, "unassigned") for a in removed]
        self._send(events)

    def close(self, repo: str, number: int, login: str, reason: str = "completed") -> None:
        """`reason`: completed | not_planned | duplicate (issues only)."""
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_issue(r, number)
            done = f.close_issue(item, login, reason)
            event = payloads.item_event(f, r, item, "closed", login)
        self._send([event] if done else [])

    def reopen(self, repo: str, number: int, login: str) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_issue(r, number)
            done = f.reopen_issue(item, actor=login)
            event = payloads.item_event(f, r, item, "reopened", login)
        self._send([event] if done else [])

    # -- pull requests ---------------------------------------------------------------------
    def open_pull(
        self,
        repo: str,
        login: str,
        title: str,
        body: str | None = "",
        files: Files = ("README.md",),
        *,
        draft: bool = False,
        head: str | None = None,
        base: str | None = None,
    ) -> int:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            branch = head or f"{login.lower()}-patch-{r.last_number + 1}"
            item = f.create_pull(
                r, login, title, body, _changes(files), head=branch, base=base, draft=draft
            )
            event = payloads.item_event(f, r, item, "opened", login)
        self._send([event])
        return item.number

    def push_to_pull(
        self,
        repo: str,
        number: int,
        login: str,
        files: Files = ("README.md",),
        message: str = "Update",
    ) -> str:
        """A new commit on the head branch (`synchronize`); returns the new head sha."""
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_pull(r, number)
            before, after = f.push_to_pull(item, login, _changes(files), message)
            event = payloads.item_event(
                f, r, item, "synchronize", login, before=before, after=after
            )
        self._send([event])
        return after

    def ready_for_review(self, repo: str, number: int, login: str) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_pull(r, number)
            f.set_draft(item, False, actor=login)
            event = payloads.item_event(f, r, item, "ready_for_review", login)
        self._send([event])

    def request_review(
        self,
        repo: str,
        number: int,
        login: str,
        reviewers: Sequence[str] = (),
        teams: Sequence[str] = (),
    ) -> None:
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_pull(r, number)
            users, slugs = f.request_reviewers(item, reviewers, teams, actor=login)
            org = f.org_of(r)
            events = [
                payloads.item_event(
                    f, r, item, "review_requested", login, requested_reviewer=shapes.user(f, u)
                )
                for u in users
            ]
            for slug in slugs:
                if org is not None and slug in org.teams:
                    team = shapes.team(f, org, org.teams[slug])
                    events.append(
                        payloads.item_event(
                            f, r, item, "review_requested", login, requested_team=team
                        )
                    )
        self._send(events)

    def review(
        self, repo: str, number: int, login: str, state: str = "APPROVED", body: str = ""
    ) -> int:
        """`state`: APPROVED | CHANGES_REQUESTED | COMMENTED."""
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_pull(r, number)
            submitted = f.add_review(r, item, login, state, body)
            event = payloads.review_event(f, r, item, submitted, login)
        self._send([event])
        return submitted.id

    def merge(self, repo: str, number: int, login: str) -> str:
        """Closes as merged, applies known file contents to the base branch, then the push
        event of the merge commit. Returns the merge commit sha."""
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            item = f.get_pull(r, number)
            assert item.pull is not None
            before, merge_commit = f.merge_pull(r, item, login)
            closed = payloads.item_event(f, r, item, "closed", login)
            push = payloads.push_event(f, r, item.pull.base_ref, before, merge_commit, login)
        self._send([closed, push])
        return merge_commit.sha

    # -- repositories, people, installations -----------------------------------------------
    def push_files(
        self,
        repo: str,
        branch: str,
        login: str,
        files: Mapping[str, str | None],
        message: str = "Update files",
    ) -> str:
        """Commit files (None deletes) and send the push event; returns the new head sha."""
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            before, made = f.push_files(r, branch, login, files, message)
            event = payloads.push_event(f, r, branch, before, made, login)
        self._send([event])
        return made.sha

    def add_member(
        self,
        org: str,
        login: str,
        *,
        public: bool = False,
        role: str = "member",
        by: str | None = None,
    ) -> None:
        """`organization` / `member_added`; `by` is the sender (default: the new member)."""
        f = self.forge
        with f.lock:
            f.add_member(org, login, public=public, role=role)
            event = payloads.organization_event(f, f.get_org(org), login, by or login)
        self._send([event])

    def remove_member(self, org: str, login: str, *, by: str | None = None) -> None:
        f = self.forge
        with f.lock:
            the_org = f.get_org(org)
            event = payloads.organization_event(f, the_org, login, by or login, "member_removed")
            f.remove_member(org, login)
        self._send([event])

    def add_team_member(
        self, org: str, team: str, login: str, *, role: str = "member", by: str | None = None
    ) -> None:
        """`membership` / `added`."""
        f = self.forge
        with f.lock:
            f.add_team_member(org, team, login, role=role)
            event = payloads.membership_event(f, f.get_org(org), team, login, by or login)
        self._send([event])

    def add_collaborator(
        self, repo: str, login: str, role: str = "write", *, by: str | None = None
    ) -> None:
        """`member` / `added` (repository collaborator)."""
        f = self.forge
        with f.lock:
            r = f.get_repo(repo)
            f.set_permission(repo, login, role)
            event = payloads.member_event(f, r, login, role, by or r.owner)
        self._send([event])

    def install(
        self, account: str, repos: Sequence[str] | None = None, *, by: str | None = None
    ) -> int:
        """`installation` / `created`; returns the installation id."""
        f = self.forge
        with f.lock:
            inst = f.install(account, repos)
            covered = [r for r in f.repos.values() if f.covers(inst, r)]
            sender = by or f.the_app.owner
            event = payloads.installation_event(f, inst, "created", sender, covered)
        self._send([event])
        return inst.id

    def add_repos_to_installation(
        self, installation_id: int, repos: Sequence[str], *, by: str | None = None
    ) -> None:
        """`installation_repositories` / `added`. With selection `all` (a repository created
        in the account) the selection stays `all`."""
        f = self.forge
        with f.lock:
            inst = f.installations[installation_id]
            added = [f.get_repo(name) for name in repos]
            if inst.repository_selection == "selected":
                inst.repos |= {r.full_name.lower() for r in added}
            event = payloads.installation_repositories_event(
                f, inst, added, [], by or f.the_app.owner
            )
        self._send([event])

    def redeliver(self, delivery_id: int) -> None:
        """Send a logged delivery again, same GUID (what a maintainer does in the UI)."""
        self.forge.redeliver(delivery_id, wait=True)

    def labels_of(self, repo: str, number: int) -> list[str]:
        """Convenience for assertions: the item's label names."""
        f = self.forge
        with f.lock:
            return list(f.get_issue(repo, number).labels)
