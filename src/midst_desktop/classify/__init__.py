"""Deciding what kind of work a file is, and how sure we are."""
