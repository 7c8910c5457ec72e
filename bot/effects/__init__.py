"""Effects on the forge and by mail: intended actions, the executor, the mail outbox."""
