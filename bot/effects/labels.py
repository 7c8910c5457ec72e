"""The labels Veilleur creates when missing: colour and description of each, by style."""

LABEL_STYLE = {  # colour and description of each bot label, created when missing
    "external": ("0e8a16", "Opened by someone outside the project"),
    "first_time": ("7057ff", "First contribution to this repository"),
    "needs_triage": ("fbca04", "A maintainer has not looked at this yet"),
    "awaiting_maintainer": ("d93f0b", "Waiting for a maintainer's answer"),
    "awaiting_author": ("c5def5", "Waiting for the author's answer"),
    "overdue": ("b60205", "Waiting past the response time the project aims for"),
    "partner": ("1d76db", "Opened by a partner organisation"),
    "area": ("bfdadc", "Area of the project"),
}
