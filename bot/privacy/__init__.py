"""Personal data under control (GDPR): retention, access, erasure, pseudonymised outputs.

See docs/privacy.md for the inventory of what is held, why, and for how long.
"""
