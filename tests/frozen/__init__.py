"""Frozen copies of code whose outputs must never change (see each module)."""
