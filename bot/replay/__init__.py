"""`veilleur replay`: what Veilleur would have done over recorded history (see engine.py)."""
