"""Storage: SQLModel tables, engine set-up and migrations."""
