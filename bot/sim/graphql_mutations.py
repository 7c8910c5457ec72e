"""The mutations the forge serves: adding and removing labels by node id, as the App does to
change an item's labels in one request (`addLabelsToLabelable`, `removeLabelsFromLabelable`,
several in one document run in order). Each change is echoed as the `labeled`/`unlabeled`
webhook the REST routes send."""

from __future__ import annotations

from typing import Any

from bot.sim import payloads
from bot.sim.graphql_base import Ctx, FieldDef, ItemRef, Unresolved, define, repo_visible
from bot.sim.models import Label

INPUT = frozenset({"input"})


def _target(ctx: Ctx, args: dict[str, Any]) -> tuple[ItemRef, list[Label]]:
    data = args.get("input") or {}
    wanted, ids = str(data.get("labelableId")), [str(i) for i in data.get("labelIds") or []]
    for repo in ctx.forge.repos.values():
        if not repo_visible(ctx, repo):
            continue
        for issue in repo.issues.values():
            if issue.node_id != wanted:
                continue
            if not ctx.forge.covers(ctx.inst, repo):
                raise Unresolved("FORBIDDEN", "Resource not accessible by integration")
            by_id = {label.node_id: label for label in repo.labels.values()}
            missing = [i for i in ids if i not in by_id]
            if missing:
                message = f"Could not resolve to a node with the global id of '{missing[0]}'"
                raise Unresolved("NOT_FOUND", message)
            return ItemRef(repo, issue), [by_id[i] for i in ids]
    raise Unresolved("NOT_FOUND", f"Could not resolve to a node with the global id of '{wanted}'")


def _add(ctx: Ctx, _v: Any, args: dict[str, Any]) -> dict[str, Any]:
    ref, labels = _target(ctx, args)
    forge, bot = ctx.forge, ctx.forge.bot_login
    added = forge.add_labels(ref.repo, ref.issue, [lab.name for lab in labels], actor=bot)
    for lab in added:
        forge.emit(payloads.labeled(forge, ref.repo, ref.issue, lab, bot), by_bot=True)
    return {"clientMutationId": (args.get("input") or {}).get("clientMutationId")}


def _remove(ctx: Ctx, _v: Any, args: dict[str, Any]) -> dict[str, Any]:
    ref, labels = _target(ctx, args)
    forge, bot = ctx.forge, ctx.forge.bot_login
    present = {n.lower() for n in ref.issue.labels}
    for lab in labels:
        if lab.name.lower() in present:
            removed = forge.remove_label(ref.repo, ref.issue, lab.name, actor=bot)
            event = payloads.labeled(forge, ref.repo, ref.issue, removed, bot, "unlabeled")
            forge.emit(event, by_bot=True)
    return {"clientMutationId": (args.get("input") or {}).get("clientMutationId")}


def define_mutations() -> None:
    mutation_id = {"clientMutationId": FieldDef("String", lambda _c, v, _a: v["clientMutationId"])}
    define("AddLabelsToLabelablePayload", mutation_id)
    define("RemoveLabelsFromLabelablePayload", mutation_id)
    define(
        "Mutation",
        {
            "addLabelsToLabelable": FieldDef("AddLabelsToLabelablePayload", _add, INPUT),
            "removeLabelsFromLabelable": FieldDef(
                "RemoveLabelsFromLabelablePayload", _remove, INPUT
            ),
        },
    )
