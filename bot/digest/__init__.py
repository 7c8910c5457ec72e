"""OSPO digest: contributor-health metrics computed from Veilleur's own record."""
