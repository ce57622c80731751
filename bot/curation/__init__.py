"""Curated answers: an admin writes the answer once; the assistant then gives it."""
