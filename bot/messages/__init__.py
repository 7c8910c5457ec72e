"""Every message Veilleur writes: templates, organisation overrides, the contributor's language."""
