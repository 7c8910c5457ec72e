"""The `veilleur` command: `main` and its subcommands."""
