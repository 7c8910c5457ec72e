"""The part of GitHub's GraphQL schema the forge serves: the query root, repositories with
their issue and pull request connections, organizations, teams, accounts and `rateLimit`.

Issue, pull request and timeline types are in `graphql_items`; the building blocks in
`graphql_base`. Visibility follows the REST side: installation tokens see the installed
repositories and public ones; organization members are all visible in the installation's own
organization, only public ones elsewhere. Quirk kept on purpose: a `Bot`'s login has no
`[bot]` suffix in GraphQL (REST has it).
"""

from __future__ import annotations

from typing import Any

from bot.sim import graphql_items, graphql_mutations
from bot.sim.graphql_base import (
    ABSTRACT,
    SCALARS,
    Conn,
    Ctx,
    FieldDef,
    ItemRef,
    Typed,
    Unresolved,
    attr,
    conn_field,
    connection_type,
    define,
    define_page_info,
    edge_extra,
    field_def,
    graphql_login,
    is_type,
    iso_of,
    key_of,
    paginate,
    plain,
    repo_visible,
)
from bot.sim.models import Org, Repo, User

__all__ = [
    "ABSTRACT", "SCALARS", "Ctx", "FieldDef", "Typed", "Unresolved", "field_def", "is_type",
]  # fmt: skip


# -- the query root ----------------------------------------------------------------------------
def _repository(ctx: Ctx, _v: Any, args: dict[str, Any]) -> Repo:
    full = f"{args.get('owner')}/{args.get('name')}"
    repo = ctx.forge.repos.get(full.lower())
    if not repo_visible(ctx, repo):
        raise Unresolved("NOT_FOUND", f"Could not resolve to a Repository with the name '{full}'.")
    return repo


def _organization(ctx: Ctx, _v: Any, args: dict[str, Any]) -> Org:
    org = ctx.forge.orgs.get(str(args.get("login")).lower())
    if org is None:
        message = f"Could not resolve to an Organization with the login of '{args.get('login')}'."
        raise Unresolved("NOT_FOUND", message)
    return org


def _user(ctx: Ctx, _v: Any, args: dict[str, Any]) -> User:
    user = ctx.forge.users.get(str(args.get("login")).lower())
    if user is None or user.type != "User":
        message = f"Could not resolve to a User with the login of '{args.get('login')}'."
        raise Unresolved("NOT_FOUND", message)
    return user


def _node(ctx: Ctx, _v: Any, args: dict[str, Any]) -> Typed:
    wanted = str(args.get("id"))
    for repo in ctx.forge.repos.values():
        if not repo_visible(ctx, repo):
            continue
        for issue in repo.issues.values():
            if issue.node_id == wanted:
                return Typed("PullRequest" if issue.pull else "Issue", ItemRef(repo, issue))
    raise Unresolved("NOT_FOUND", f"Could not resolve to a node with the global id of '{wanted}'")


# -- repositories ------------------------------------------------------------------------------
def _order_key(field_name: str) -> Any:
    def key(ref: ItemRef) -> list[Any]:
        issue = ref.issue
        if field_name == "UPDATED_AT":
            return [iso_of(issue.updated_at), issue.id]
        if field_name == "COMMENTS":
            count = sum(1 for c in ref.repo.comments.values() if c.issue_number == issue.number)
            return [count, issue.id]
        return [iso_of(issue.created_at), issue.id]

    return key


def _items(ctx: Ctx, repo: Repo, args: dict[str, Any], pulls: bool) -> Conn:
    filters = dict(args.get("filterBy") or {})
    states = {s.upper() for s in (args.get("states") or filters.get("states") or [])}
    labels = {n.lower() for n in (args.get("labels") or filters.get("labels") or [])}
    since = filters.get("since")
    creator = str(filters.get("createdBy") or "").lower()
    found: list[ItemRef] = []
    for issue in repo.issues.values():
        ref = ItemRef(repo, issue)
        if issue.is_pull != pulls:
            continue
        state = "MERGED" if issue.pull and issue.pull.merged else issue.state.upper()
        if (states and state not in states) or (since and (iso_of(issue.updated_at) or "") < since):
            continue
        if labels and not labels <= {n.lower() for n in issue.labels}:
            continue
        if creator and issue.user.lower() != creator:
            continue
        if (
            pulls
            and args.get("baseRefName")
            and issue.pull
            and issue.pull.base_ref != args["baseRefName"]
        ):
            continue
        found.append(ref)
    order = dict(args.get("orderBy") or {})
    key = _order_key(str(order.get("field") or "CREATED_AT"))
    descending = str(order.get("direction") or "ASC") == "DESC"
    found.sort(key=key, reverse=descending)
    return paginate(found, args, key, descending=descending)


def _number(ctx: Ctx, repo: Repo, args: dict[str, Any], pulls: bool) -> ItemRef:
    issue = repo.issues.get(int(args.get("number") or 0))
    if issue is None or (pulls and issue.pull is None):
        kind = "PullRequest" if pulls else "Issue"
        message = f"Could not resolve to a {kind} with the number of {args.get('number')}."
        raise Unresolved("NOT_FOUND", message)
    if not pulls and issue.pull is not None:  # GitHub: `issue` does not answer pull requests
        raise Unresolved(
            "NOT_FOUND", f"Could not resolve to an Issue with the number of {issue.number}."
        )
    return ItemRef(repo, issue)


def _collaborators(ctx: Ctx, repo: Repo, args: dict[str, Any]) -> Conn:
    forge = ctx.forge
    if not forge.covers(ctx.inst, repo):
        raise Unresolved("FORBIDDEN", "Must have push access to view repository collaborators.")
    logins = set(repo.permissions)
    org = forge.org_of(repo)
    if org is not None and str(args.get("affiliation") or "ALL") != "OUTSIDE":
        logins |= {m for m, ms in org.members.items() if ms.state == "active"}
    users = sorted(
        (forge.users[x] for x in logins if x in forge.users), key=lambda u: u.login.lower()
    )
    role = {u.login: str(forge.role_of(repo, u.login) or "read").upper() for u in users}
    return paginate(users, args, extra=lambda u: {"permission": role[u.login]})


def _owner(ctx: Ctx, repo: Repo) -> Typed:
    org = ctx.forge.orgs.get(repo.owner.lower())
    return Typed("Organization", org) if org else Typed("User", ctx.forge.users[repo.owner.lower()])


# -- organizations, teams and accounts ---------------------------------------------------------
def _own_org(ctx: Ctx, org: Org) -> bool:
    return ctx.inst.account.lower() == org.login.lower()


def _members(ctx: Ctx, org: Org, args: dict[str, Any]) -> Conn:
    own = _own_org(ctx, org)
    chosen = sorted(
        (login, ms)
        for login, ms in org.members.items()
        if ms.state == "active" and (own or ms.public)
    )
    users = [ctx.forge.users[login] for login, _ in chosen if login in ctx.forge.users]
    role = {login: ms.role.upper() for login, ms in chosen}
    return paginate(users, args, extra=lambda u: {"role": role.get(u.login.lower(), "MEMBER")})


def _team(ctx: Ctx, org: Org, args: dict[str, Any]) -> tuple[Org, Any] | None:
    team = org.teams.get(str(args.get("slug")))
    return (org, team) if team is not None and _own_org(ctx, org) else None


def _team_members(ctx: Ctx, value: tuple[Org, Any], args: dict[str, Any]) -> Conn:
    _, team = value
    chosen = sorted((login, ms) for login, ms in team.members.items() if ms.state == "active")
    users = [ctx.forge.users[login] for login, _ in chosen if login in ctx.forge.users]
    role = {login: ms.role.upper() for login, ms in chosen}
    return paginate(users, args, extra=lambda u: {"role": role.get(u.login.lower(), "MEMBER")})


def _org_repos(ctx: Ctx, org: Org, args: dict[str, Any]) -> Conn:
    repos = [
        r for r in ctx.forge.repos.values()
        if r.owner.lower() == org.login.lower() and repo_visible(ctx, r)
    ]  # fmt: skip
    return paginate(sorted(repos, key=lambda r: r.id), args)


def _user_orgs(ctx: Ctx, user: User, args: dict[str, Any]) -> Conn:
    low = user.login.lower()
    orgs = [
        org for org in ctx.forge.orgs.values()
        if (ms := org.members.get(low)) is not None and ms.state == "active"
        and (ms.public or _own_org(ctx, org))
    ]  # fmt: skip
    return paginate(sorted(orgs, key=lambda o: o.login.lower()), args)


def _account(type_name: str) -> dict[str, FieldDef]:
    return {
        "id": attr("node_id", "ID"),
        "databaseId": attr("id", "Int"),
        "login": plain(graphql_login) if type_name == "Bot" else attr("login"),
        "url": FieldDef("URI", lambda c, u, _a: f"{c.forge.html_url}/{u.login}"),
        "avatarUrl": plain(lambda u: f"https://avatars.githubusercontent.com/u/{u.id}?v=4", "URI"),
    }


def build_schema() -> None:
    """Register the schema's types, explicitly and once (nothing is registered at import)."""
    if is_type("Query"):
        return
    define_page_info()
    graphql_items.define_item_types()
    graphql_mutations.define_mutations()
    define(
        "Query",
        {
            "repository": FieldDef(
                "Repository", _repository, frozenset({"owner", "name", "followRenames"})
            ),
            "organization": FieldDef("Organization", _organization, frozenset({"login"})),
            "user": FieldDef("User", _user, frozenset({"login"})),
            "node": FieldDef("Node", _node, frozenset({"id"})),
            "rateLimit": FieldDef("RateLimit", lambda c, _v, _a: c.rate, frozenset({"dryRun"})),
        },
    )
    define(
        "Node", {"id": FieldDef("ID", lambda _c, v, _a: v.issue.node_id)}, ("Issue", "PullRequest")
    )
    define(
        "RateLimit",
        {
            k: key_of(k, t)
            for k, t in (("cost", "Int"), ("limit", "Int"), ("remaining", "Int"), ("used", "Int"),
                         ("resetAt", "DateTime"), ("nodeCount", "Int"))
        },
    )  # fmt: skip
    define(
        "Repository",
        {
            "id": attr("node_id", "ID"),
            "databaseId": attr("id", "Int"),
            "name": attr("name"),
            "nameWithOwner": plain(lambda r: r.full_name),
            "owner": FieldDef("RepositoryOwner", lambda c, r, _a: _owner(c, r)),
            "isPrivate": attr("private", "Boolean"),
            "url": FieldDef("URI", lambda c, r, _a: f"{c.forge.html_url}/{r.full_name}"),
            "defaultBranchRef": plain(lambda r: {"name": r.default_branch}, "Ref"),
            "issues": conn_field(
                "IssueConnection", lambda c, r, a: _items(c, r, a, False),
                ("orderBy", "filterBy", "states", "labels"),
            ),
            "pullRequests": conn_field(
                "PullRequestConnection", lambda c, r, a: _items(c, r, a, True),
                ("orderBy", "states", "labels", "baseRefName", "headRefName"),
            ),
            "issue": FieldDef(
                "Issue", lambda c, r, a: _number(c, r, a, False), frozenset({"number"})
            ),
            "pullRequest": FieldDef(
                "PullRequest", lambda c, r, a: _number(c, r, a, True), frozenset({"number"})
            ),
            "collaborators": conn_field(
                "RepositoryCollaboratorConnection", _collaborators, ("affiliation", "query")
            ),
        },
    )  # fmt: skip
    define("Ref", {"name": FieldDef("String", lambda _c, v, _a: v["name"])})
    connection_type("Issue", "Issue")
    connection_type("PullRequest", "PullRequest")
    connection_type("Repository", "Repository")
    connection_type("RepositoryCollaborator", "User", {"permission": edge_extra("permission")})
    define("Actor", _account("User"), ("User", "Bot", "Organization", "Mannequin"))
    define("RepositoryOwner", _account("User"), ("User", "Organization"))
    define(
        "User",
        _account("User")
        | {
            "name": attr("name"),
            "email": plain(lambda u: u.email or ""),
            "company": attr("company"),
            "organizations": conn_field("OrganizationConnection", _user_orgs),
        },
    )
    define("Bot", _account("Bot"))
    define("Mannequin", _account("Mannequin"))
    define(
        "Organization",
        _account("Organization")
        | {
            "name": attr("description"),
            "membersWithRole": conn_field("OrganizationMemberConnection", _members),
            "team": FieldDef("Team", _team, frozenset({"slug"})),
            "repositories": conn_field("RepositoryConnection", _org_repos, ("orderBy", "privacy")),
        },
    )
    define(
        "Team",
        {
            "id": FieldDef("ID", lambda _c, v, _a: v[1].node_id),
            "slug": FieldDef("String", lambda _c, v, _a: v[1].slug),
            "name": FieldDef("String", lambda _c, v, _a: v[1].name),
            "members": conn_field("TeamMemberConnection", _team_members, ("membership", "role")),
        },
    )
    connection_type("User", "User")
    connection_type("Organization", "Organization")
    connection_type("OrganizationMember", "User", {"role": edge_extra("role")})
    connection_type("TeamMember", "User", {"role": edge_extra("role")})
