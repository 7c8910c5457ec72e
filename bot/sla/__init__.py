"""Service levels: business calendars, who owes the next move (pure), CODEOWNERS, the sweep."""
