"""The simulated GitLab against the real one: its REST answers have the field names and types
of GitLab's documented responses (api-reference) and recorded ones (api-examples), its lists
the recorded pagination and rate-limit headers, its webhooks the fields of the real examples."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from bot.sim.gitlab import GitLabServer, GitLabWorld
from bot.sim.gitlab.items import approve, comment, open_issue, open_merge_request, push
from tests.gitlab_fixtures import shared

Json = dict[str, Any]


def reference(name: str, index: int = 0) -> Json:
    text = (shared() / "api-reference" / name).read_text()
    data = json.loads(re.findall(r"```json\n(.*?)```", text, re.S)[index])
    return data[0] if isinstance(data, list) else data


def recorded(*parts: str) -> Any:
    data = json.loads((shared() / "api-examples").joinpath(*parts).read_text())
    return data[0] if isinstance(data, list) else data


def _kind(value: Any) -> str:
    return (
        "number"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else type(value).__name__
    )


PERSON_KEYS = {"author", "assignee", "assignees", "reviewers", "closed_by", "merge_user", "user"}


def person_union() -> Json:
    """A person as GitLab embeds one in issues, merge requests, notes and approvals (the
    references trim it differently, so their fields are merged)."""
    merged: Json = {}
    for obj in (reference("issues.md"), reference("merge-requests.md"),
                reference("notes-and-discussions.md")):  # fmt: skip
        merged |= {k: v for k, v in obj["author"].items() if v is not None}
    merged |= reference("merge-request-approvals.md")["approved_by"][0]["user"]
    return merged


def assert_like(sim: Json, real: Json, where: str) -> None:
    """Every field the simulator serves exists in the real object, with the same JSON type
    (where neither is null); nested objects compared the same way."""
    if where.rpartition(".")[2].partition("[")[0] in PERSON_KEYS:
        real = person_union()
    extra = set(sim) - set(real)
    assert not extra, f"{where}: fields GitLab does not send: {sorted(extra)}"
    for key, value in sim.items():
        other = real[key]
        if value is None or other is None:
            continue
        assert _kind(value) == _kind(other), f"{where}.{key}: {_kind(value)} vs {_kind(other)}"
        if isinstance(value, dict) and isinstance(other, dict) and other:
            assert_like(value, other, f"{where}.{key}")
        if isinstance(value, list) and isinstance(other, list) and value and other:
            if isinstance(value[0], dict) and isinstance(other[0], dict):
                assert_like(value[0], other[0], f"{where}.{key}[0]")


def project_view() -> Json:
    """The recorded 2018 project (a public listing) plus the three fields of the full view an
    authenticated `GET /projects/:id` adds (projects.md: `visibility`, `archived`, and
    `namespace` as the groups reference shows it), which the material has no recording of."""
    real = recorded("gidgetlab", "projects_single", "body.json")
    group = reference("groups.md")
    return real | {"visibility": group["visibility"], "archived": False, "namespace": {
        "full_path": group["full_path"], "kind": "group"}}  # fmt: skip


def seeded(world: GitLabWorld) -> None:
    world.add_user("anna", name="Anna de Vries")
    world.add_user("maint")
    world.add_project("city/app", files={"README.md": "hi", ".gitlab/veilleur.yml": "sla: {}"})
    world.add_member("city", "maint", 40)
    world.add_member("city", "veilleur-bot", 40)


def get(server: GitLabServer, path: str, **params: Any) -> httpx.Response:
    headers = {"PRIVATE-TOKEN": server.world.api_token}
    return httpx.get(f"{server.url}/api/v4{path}", params=params, headers=headers, timeout=5)


def test_rest_objects_have_gitlabs_fields_and_types(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer
) -> None:
    world = gitlab_world
    seeded(world)
    open_issue(world, "city/app", "anna", "Broken link", "The link is broken")
    open_merge_request(world, "city/app", "anna", "Fix link", "Fixes #1", ["docs/a.md"])
    comment(world, "city/app", 1, "anna", "any news?")
    approve(world, "city/app", 1, "maint")
    p = "/projects/city%2Fapp"
    user_id = world.user("anna")["id"]
    cases = [
        (get(gitlab_server, f"{p}/issues/1").json(), reference("issues.md")),
        (get(gitlab_server, f"{p}/merge_requests/1").json(),
         recorded("go-gitlab", "get_merge_request.json") | reference("merge-requests.md")),
        (get(gitlab_server, f"{p}/issues/1/notes").json()[0], reference("notes-and-discussions.md")),
        (get(gitlab_server, f"/users/{user_id}").json(),
         recorded("go-gitlab", "get_user.json") | reference("users.md")),
        (get(gitlab_server, "/users", username="anna").json()[0], reference("users.md")),
        (get(gitlab_server, f"/groups/city/members/all/{world.user('maint')['id']}").json(),
         reference("members.md")),
        (get(gitlab_server, f"{p}/members/all").json()[0], reference("members.md")),
        (get(gitlab_server, f"{p}/merge_requests/1/approvals").json(),
         reference("merge-request-approvals.md")),
        (get(gitlab_server, p).json(), project_view()),
    ]  # fmt: skip
    for sim, real in cases:
        assert_like(sim, real, str(sim.get("id")))
    httpx.post(
        f"{gitlab_server.url}/api/v4{p}/labels",
        json={"name": "bug", "color": "#d9534f", "description": "A bug"},
        headers={"PRIVATE-TOKEN": world.api_token},
    )
    assert_like(
        get(gitlab_server, f"{p}/labels/bug").json(), reference("labels-and-emoji.md"), "label"
    )


def test_lists_carry_the_recorded_pagination_and_rate_limit_headers(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer
) -> None:
    seeded(gitlab_world)
    for n in range(5):
        open_issue(gitlab_world, "city/app", "anna", f"Issue {n}")
    first = get(gitlab_server, "/projects/city%2Fapp/issues", per_page=2)
    last = get(gitlab_server, "/projects/city%2Fapp/issues", per_page=2, page=3)
    real = (shared() / "api-examples/gidgetlab/projects_page_1/200.headers").read_text()
    real_names = {line.split(":", 1)[0].lower() for line in real.splitlines() if ":" in line}
    for name in (
        "x-next-page",
        "x-page",
        "x-per-page",
        "x-prev-page",
        "x-total",
        "x-total-pages",
        "ratelimit-limit",
        "ratelimit-observed",
        "ratelimit-remaining",
        "ratelimit-reset",
    ):
        assert name in real_names and name in first.headers, name  # fmt: skip
    assert (first.headers["x-next-page"], first.headers["x-total"]) == ("2", "5")
    assert last.headers["x-next-page"] == "" and len(last.json()) == 1
    assert [i["iid"] for i in first.json()] == [5, 4]  # newest first, as GitLab lists


def test_throttled_answers_are_429_with_retry_after(
    gitlab_world: GitLabWorld, gitlab_server: GitLabServer
) -> None:
    seeded(gitlab_world)
    gitlab_world.throttle_next = [30]
    r = get(gitlab_server, "/projects/city%2Fapp")
    assert (r.status_code, r.headers["retry-after"], r.text) == (429, "30", "Retry later\n")
    assert get(gitlab_server, "/projects/city%2Fapp").status_code == 200
    assert httpx.get(f"{gitlab_server.url}/api/v4/projects/city%2Fapp").status_code == 401


class _Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Json]] = []

    def send(self, kind: str, payload: Json) -> None:
        self.sent.append((kind, payload))


def example_union(kind: str) -> Json:
    """The fields of every real example of one hook kind, merged."""
    merged: Json = {}
    for path in sorted((shared() / "webhook-examples" / kind).glob("*.json")):
        _merge(merged, json.loads(path.read_text()))
    return merged


def _merge(into: Json, data: Json) -> None:
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif into.get(key) is None:
            into[key] = value


def test_webhooks_have_the_fields_of_the_real_examples(gitlab_world: GitLabWorld) -> None:
    world = gitlab_world
    seeded(world)
    world.sender = _Sink()
    open_issue(world, "city/app", "anna", "Broken link", "text")
    open_merge_request(world, "city/app", "anna", "Fix", "", ["a.md"])
    comment(world, "city/app", 1, "maint", "Thanks, which page?")
    comment(world, "city/app", 1, "anna", "Also here", merge=True)
    push(world, "city/app", 1, "anna", ["b.md"])
    kinds = [k for k, _ in world.sender.sent]
    assert kinds == ["issue", "merge_request", "note", "note", "merge_request"]
    for kind, payload in world.sender.sent:
        assert_like(payload, example_union(kind), kind)
