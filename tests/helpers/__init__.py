"""Shared test helpers: real wheels and sdists, and a loopback package index."""
