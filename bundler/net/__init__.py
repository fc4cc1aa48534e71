"""HTTP for the index and download stages: one pooled client, a cache, ranges.

Everything that goes over the network (or reads a ``file://`` index) passes
through here, so retries, offline mode, redaction of credentials and the
on-disk response cache are decided once.
"""
