"""Feature handlers, one module per concern, composed by the explicit list in `bot.registry`."""
