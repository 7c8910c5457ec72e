# SPDX-License-Identifier: EUPL-1.2
"""`veilleur doctor`: what is wrong with this deployment, one check a line with its fix.

Local checks (`bot.doctor.local`: settings, database, SMTP, sign-in) need no network beyond
the services configured; GitHub checks (`bot.doctor.github`) ask GitHub as the App does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["ok", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "fail", detail, fix)


def skip(name: str, detail: str) -> Check:
    """Not applicable (e.g. SMTP not configured) or not checkable because an earlier check
    failed; never a failure by itself."""
    return Check(name, "skip", detail)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
