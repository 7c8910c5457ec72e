"""Intake: the webhook endpoint, the writers that store deliveries, recovery of missed ones."""
