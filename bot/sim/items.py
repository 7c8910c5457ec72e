"""Changes to issues, pull requests, comments, labels and branches, shared by REST and scenarios.

Every method takes the lock, changes the records, and returns what the caller needs to build
the webhook (what was added, the text before an edit...). None of them sends anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.sim.models import (
    CheckRun,
    Comment,
    Commit,
    FileChange,
    Issue,
    Label,
    PullExtras,
    Repo,
    Review,
)
from bot.sim.state import ForgeNotFound, fake_sha, node_id
from bot.sim.timeline import TimelineOps

ASSIGNABLE_ROLES = ("admin", "maintain", "write", "triage")


class LabelExists(ValueError):
    """Creating a label whose name the repository already has (GitHub answers 422)."""


class ItemOps(TimelineOps):
    # `actor` (who, for the timeline events GraphQL lists): None records a deleted account.
    # -- labels ----------------------------------------------------------------------------
    def create_label(
        self, repo: Repo, name: str, color: str = "ededed", description: str | None = None
    ) -> Label:
        with self.lock:
            if name.lower() in repo.labels:
                raise LabelExists(name)
            ident = self.new_id()
            label = Label(ident, node_id("Label", ident), name, color.lstrip("#"), description)
            repo.labels[name.lower()] = label
            return label

    def ensure_label(self, repo: Repo, name: str) -> Label:
        """The repository's label, created (grey, no description) if unknown: GitHub does so
        when a label that does not exist is added to an issue."""
        with self.lock:
            found = repo.labels.get(name.lower())
            return found if found is not None else self.create_label(repo, name)

    def add_labels(
        self, repo: Repo, issue: Issue, names: Iterable[str], *, actor: str | None = None
    ) -> list[Label]:
        """Apply labels; returns those that were not on the item yet."""
        added: list[Label] = []
        with self.lock:
            now = self.now()
            present = {n.lower() for n in issue.labels}
            for name in names:
                label = self.ensure_label(repo, name)
                if label.name.lower() not in present:
                    issue.labels.append(label.name)
                    present.add(label.name.lower())
                    added.append(label)
                    self.record_event(issue, "labeled", actor, now, label.name)
            if added:
                issue.updated_at = now
        return added

    def remove_label(
        self, repo: Repo, issue: Issue, name: str, *, actor: str | None = None
    ) -> Label:
        with self.lock:
            for current in issue.labels:
                if current.lower() == name.lower():
                    issue.labels.remove(current)
                    issue.updated_at = self.now()
                    self.record_event(issue, "unlabeled", actor, issue.updated_at, current)
                    return repo.labels[current.lower()]
        raise ForgeNotFound("Label does not exist")

    def issue_labels(self, repo: Repo, issue: Issue) -> list[Label]:
        return [repo.labels[n.lower()] for n in issue.labels if n.lower() in repo.labels]

    # -- assignees -------------------------------------------------------------------------
    def assignable(self, repo: Repo, issue: Issue, login: str) -> bool:
        """GitHub silently drops assignees without triage access who did not take part."""
        if self.role_of(repo, login) in ASSIGNABLE_ROLES or issue.user.lower() == login.lower():
            return True
        return any(
            c.issue_number == issue.number and c.user.lower() == login.lower()
            for c in repo.comments.values()
        )

    def add_assignees(
        self, repo: Repo, issue: Issue, logins: Iterable[str], *, actor: str | None = None
    ) -> list[str]:
        added: list[str] = []
        with self.lock:
            now = self.now()
            for login in logins:
                if login.lower() not in self.users or not self.assignable(repo, issue, login):
                    continue
                real = self.users[login.lower()].login
                if real.lower() not in {a.lower() for a in issue.assignees}:
                    issue.assignees.append(real)
                    added.append(real)
                    self.record_event(issue, "assigned", actor, now, real)
            if added:
                issue.updated_at = now
        return added

    def remove_assignees(
        self, repo: Repo, issue: Issue, logins: Iterable[str], *, actor: str | None = None
    ) -> list[str]:
        removed: list[str] = []
        with self.lock:
            now = self.now()
            wanted = {login.lower() for login in logins}
            for current in list(issue.assignees):
                if current.lower() in wanted:
                    issue.assignees.remove(current)
                    removed.append(current)
                    self.record_event(issue, "unassigned", actor, now, current)
            if removed:
                issue.updated_at = now
        return removed

    # -- issues ----------------------------------------------------------------------------
    def create_issue(
        self,
        repo: Repo,
        login: str,
        title: str,
        body: str | None,
        *,
        labels: Sequence[str] = (),
        assignees: Sequence[str] = (),
        via_app: bool = False,
        pull: PullExtras | None = None,
    ) -> Issue:
        with self.lock:
            user = self.ensure_user(login)
            ident, now = self.new_id(), self.now()
            repo.last_number += 1
            kind = "PullRequest" if pull else "Issue"
            issue = Issue(
                ident, node_id(kind, ident), repo.last_number, title, body, user.login, now, now,
                via_app=via_app, pull=pull,
            )  # fmt: skip
            repo.issues[issue.number] = issue
            self.add_labels(repo, issue, labels, actor=user.login)
            self.add_assignees(repo, issue, assignees, actor=user.login)
            for event in issue.events:  # labels and assignees given at creation
                event.created_at = now
            issue.updated_at = now
            return issue

    def edit_issue(
        self, issue: Issue, *, title: str | None = None, body: str | None = None
    ) -> dict[str, dict[str, str | None]]:
        """Returns GitHub's `changes` object: the previous title and/or body."""
        changes: dict[str, dict[str, str | None]] = {}
        with self.lock:
            if title is not None and title != issue.title:
                changes["title"] = {"from": issue.title}
                issue.title = title
            if body is not None and body != issue.body:
                changes["body"] = {"from": issue.body or ""}
                issue.body = body
            if changes:
                issue.updated_at = self.now()
        return changes

    def close_issue(self, issue: Issue, login: str, reason: str | None = "completed") -> bool:
        """False when already closed. Pull requests carry no state_reason."""
        with self.lock:
            if issue.state == "closed":
                return False
            now = self.now()
            issue.state, issue.closed_at, issue.updated_at = "closed", now, now
            issue.closed_by = self.ensure_user(login).login
            issue.state_reason = None if issue.pull else (reason or "completed")
            self.record_event(issue, "closed", login, now, issue.state_reason)
            return True

    def reopen_issue(self, issue: Issue, *, actor: str | None = None) -> bool:
        with self.lock:
            if issue.state == "open" or (issue.pull and issue.pull.merged):
                return False
            issue.state, issue.closed_at, issue.closed_by = "open", None, None
            issue.state_reason = None if issue.pull else "reopened"
            issue.updated_at = self.now()
            self.record_event(issue, "reopened", actor, issue.updated_at)
            return True

    # -- comments --------------------------------------------------------------------------
    def add_comment(
        self, repo: Repo, issue: Issue, login: str, body: str, *, via_app: bool = False
    ) -> Comment:
        with self.lock:
            user = self.ensure_user(login)
            ident, now = self.new_id(), self.now()
            comment = Comment(
                ident, node_id("IssueComment", ident), issue.number, user.login, body, now, now,
                via_app=via_app,
            )  # fmt: skip
            repo.comments[ident] = comment
            issue.updated_at = now
            return comment

    def get_comment(self, repo: Repo, comment_id: int) -> Comment:
        comment = repo.comments.get(comment_id)
        if comment is None:
            raise ForgeNotFound(f"no comment {comment_id} in {repo.full_name}")
        return comment

    def edit_comment(self, comment: Comment, body: str) -> str:
        """Returns the previous body."""
        with self.lock:
            before, comment.body, comment.updated_at = comment.body, body, self.now()
            return before

    def comments_of(self, repo: Repo, issue: Issue) -> list[Comment]:
        with self.lock:
            found = [c for c in repo.comments.values() if c.issue_number == issue.number]
        return sorted(found, key=lambda c: c.id)

    # -- branches and commits --------------------------------------------------------------
    def new_commit(
        self, login: str, message: str, parent: str | None, files: Mapping[str, str | None]
    ) -> Commit:
        ident = self.new_id()
        commit = Commit(
            fake_sha("commit", ident, message), message, self.ensure_user(login).login,
            self.now(), [parent] if parent else [],
        )  # fmt: skip
        for path, text in files.items():
            (commit.removed if text is None else commit.modified).append(path)
        return commit

    def push_files(
        self, repo: Repo, branch: str, login: str, files: Mapping[str, str | None], message: str
    ) -> tuple[str, Commit]:
        """Commit `files` (None deletes) to `branch`; returns (sha before, the commit)."""
        with self.lock:
            before = repo.heads.get(branch, "0" * 40)
            tree = repo.files.setdefault(branch, {})
            commit = self.new_commit(login, message, repo.heads.get(branch), files)
            for path, text in files.items():
                if text is None:
                    tree.pop(path, None)
                elif path not in tree:
                    commit.modified.remove(path)
                    commit.added.append(path)
                    tree[path] = text
                else:
                    tree[path] = text
            repo.heads[branch] = commit.sha
            repo.pushed_at = repo.updated_at = commit.timestamp
            repo.contributors.add(login.lower())
            return before, commit

    def files_at(self, repo: Repo, ref: str | None) -> dict[str, str] | None:
        """Files at a branch, a branch head sha, or a pull request's head; None if unknown."""
        with self.lock:
            ref = ref or repo.default_branch
            if ref in repo.files:
                return dict(repo.files[ref])
            for branch, sha in repo.heads.items():
                if sha == ref:
                    return dict(repo.files.get(branch, {}))
            for issue in repo.issues.values():
                pull = issue.pull
                if pull and ref in (pull.head_sha, pull.head_ref):
                    tree = dict(repo.files.get(pull.base_ref, {}))
                    for change in pull.files:
                        if change.status == "removed":
                            tree.pop(change.filename, None)
                        elif change.content is not None:
                            tree[change.filename] = change.content
                    return tree
        return None

    # -- pull requests ---------------------------------------------------------------------
    def create_pull(
        self,
        repo: Repo,
        login: str,
        title: str,
        body: str | None,
        files: Sequence[FileChange],
        *,
        head: str,
        base: str | None = None,
        draft: bool = False,
    ) -> Issue:
        with self.lock:
            base_ref = base or repo.default_branch
            base_sha = repo.heads.get(base_ref, fake_sha("branch", base_ref))
            commit = self.new_commit(login, title, base_sha, {f.filename: "" for f in files})
            pull = PullExtras(head, commit.sha, base_ref, base_sha, list(files), [commit])
            pull.draft = draft
            return self.create_issue(repo, login, title, body, pull=pull)

    def push_to_pull(
        self, issue: Issue, login: str, files: Sequence[FileChange], message: str
    ) -> tuple[str, str]:
        """Add a commit to the pull request's head; returns (before, after) shas."""
        assert issue.pull is not None
        with self.lock:
            pull = issue.pull
            before = pull.head_sha
            commit = self.new_commit(login, message, before, {f.filename: "" for f in files})
            by_name = {f.filename: f for f in pull.files}
            by_name.update({f.filename: f for f in files})
            pull.files = list(by_name.values())
            pull.commits.append(commit)
            pull.head_sha = commit.sha
            issue.updated_at = self.now()
            return before, commit.sha

    def add_review(self, repo: Repo, issue: Issue, login: str, state: str, body: str) -> Review:
        assert issue.pull is not None
        with self.lock:
            user = self.ensure_user(login)
            ident = self.new_id()
            review = Review(
                ident, node_id("PullRequestReview", ident), user.login, state.upper(), body,
                issue.pull.head_sha, self.now(),
            )  # fmt: skip
            issue.pull.reviews.append(review)
            issue.pull.requested_reviewers = [
                r for r in issue.pull.requested_reviewers if r.lower() != login.lower()
            ]
            issue.updated_at = review.submitted_at
            return review

    def merge_pull(self, repo: Repo, issue: Issue, login: str) -> tuple[str, Commit]:
        """Merge: apply the known file contents to the base branch, close, credit the author.
        Returns (base sha before, merge commit) for the push event."""
        assert issue.pull is not None
        with self.lock:
            pull = issue.pull
            changes: dict[str, str | None] = {}
            for change in pull.files:
                if change.status == "removed":
                    changes[change.filename] = None
                elif change.content is not None:
                    changes[change.filename] = change.content
            message = f"Merge pull request #{issue.number} from {pull.head_ref}"
            before, commit = self.push_files(repo, pull.base_ref, login, changes, message)
            repo.contributors.add(issue.user.lower())
            pull.merged, pull.merged_at = True, commit.timestamp
            pull.merged_by = self.ensure_user(login).login
            pull.merge_commit_sha = commit.sha
            self.record_event(issue, "merged", login, commit.timestamp, commit.sha)
            self.close_issue(issue, login)
            return before, commit

    # -- checks ----------------------------------------------------------------------------
    def create_check_run(self, repo: Repo, fields: Mapping[str, object]) -> CheckRun:
        with self.lock:
            ident, now = self.new_id(), self.now()
            conclusion = fields.get("conclusion")
            status = str(fields.get("status") or ("completed" if conclusion else "queued"))
            output = fields.get("output")
            run = CheckRun(
                ident, node_id("CheckRun", ident), str(fields["head_sha"]), str(fields["name"]),
                status, str(conclusion) if conclusion else None, now,
                now if status == "completed" else None,
                dict(output) if isinstance(output, Mapping) else {},
                external_id=str(fields.get("external_id") or ""),
                details_url=str(fields["details_url"]) if fields.get("details_url") else None,
            )  # fmt: skip
            repo.check_runs.append(run)
            return run
