"""Feature handlers, one module per concern, listed in `bot.dispatch.registry`."""
