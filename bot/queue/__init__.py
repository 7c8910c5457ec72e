"""The delivery queue: claim and finish, the embedded worker, scale-out on PostgreSQL."""
