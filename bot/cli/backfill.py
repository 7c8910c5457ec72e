"""`veilleur backfill --org ORG`: the history import of a GitHub organisation
(bot/backfill/cli.py) or, named with its host (`gitlab.example.org/group`), of a GitLab group
(bot/gitlab/cli.py): one command, the forge told by the name as everywhere else."""

from __future__ import annotations

import argparse


def is_gitlab_group(org: str) -> bool:
    """`host/group[/subgroup]`: a GitHub owner never contains a dot, a host always does."""
    first, sep, rest = org.strip("/").partition("/")
    return bool(sep and "." in first and rest)


def cmd_backfill(args: argparse.Namespace) -> int:
    if is_gitlab_group(args.org):
        from bot.gitlab.cli import cmd_gitlab_backfill

        return cmd_gitlab_backfill(args)
    from bot.backfill.cli import cmd_backfill as github_backfill

    return github_backfill(args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backfill", help="import an organization's issue and pull request history")
    p.add_argument(
        "--org",
        required=True,
        help="the GitHub organisation (or user), or a GitLab group with its host "
        "(gitlab.example.org/group)",
    )
    p.add_argument("--since", help="only items updated since this date (e.g. 2024-01-31)")
    p.add_argument("--restart", action="store_true", help="ignore the saved progress")
    p.add_argument("--page-size", type=int, default=100, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_backfill)
