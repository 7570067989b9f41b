"""Syncing sources into the store: providers, the engine, locks and tokens."""
