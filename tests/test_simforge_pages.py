"""The forge's web pages of issues and pull requests: where the demo's dashboard links lead."""

from __future__ import annotations

import httpx

from bot.sim import Forge, ForgeServer
from tests.simforge_fixtures import seed_world


def test_issue_and_pull_pages_show_the_conversation_escaped(
    forge: Forge, forge_server: ForgeServer
) -> None:
    w = seed_world(forge)
    n = forge.scenario.open_issue(w.repo, w.outsider, "<script>alert(1)</script> map", "Broken")
    forge.scenario.comment(w.repo, n, w.maintainer, "Thanks, **looking** at it <b>now</b>")
    p = forge.scenario.open_pull(w.repo, w.outsider, "Fix typo", "Typo", files={"a.md": "x\n"})
    with httpx.Client(base_url=forge_server.url, timeout=10) as client:
        issue = client.get(f"/{w.repo}/issues/{n}")
        pull = client.get(f"/{w.repo}/pull/{p}")
        missing = client.get(f"/{w.repo}/issues/999")
    assert issue.status_code == 200 and issue.headers["content-type"].startswith("text/html")
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; map" in issue.text and "<script>" not in issue.text
    )
    assert "Thanks, **looking** at it &lt;b&gt;now&lt;/b&gt;" in issue.text
    assert w.maintainer in issue.text and w.outsider in issue.text
    assert pull.status_code == 200 and "Fix typo" in pull.text and "pull request" in pull.text
    assert missing.status_code == 404
