"""From a stored delivery to the handlers: dispatcher, handler registry, handler context."""
