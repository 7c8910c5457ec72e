"""`veilleur demo`: a realistic public-sector scenario, end to end, on a simulated clock."""
