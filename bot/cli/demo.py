"""`veilleur demo`: the simulated forge and a city's story, imported only when the command runs
(the simulated forge stays out of product code: see the import contracts in pyproject.toml)."""

from __future__ import annotations

import argparse


def cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.sim.demo.runner import DemoOptions, run_demo

    opts = DemoOptions(
        fast=args.fast,
        serve=not args.no_serve,
        database_url=args.database_url,
        port=args.port if args.port is not None else (0 if args.no_serve else 8000),
        json_out=Path(args.json) if args.json else None,
    )
    run_demo(opts)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from bot.cli.errors import port_or_zero

    demo = sub.add_parser("demo", help="six simulated weeks of a city's repositories, end to end")
    demo.add_argument("--fast", action="store_true", help="no pauses (under a minute)")
    demo.add_argument("--no-serve", action="store_true", help="exit after the summary")
    demo.add_argument(
        "--port",
        type=port_or_zero,
        help="dashboard port (default 8000; with --no-serve, any free port; 0: any)",
    )
    demo.add_argument("--json", help="also write a machine-readable summary to this file")
    demo.set_defaults(func=cmd_demo)
