"""HTTP for the index and download stages: one pooled client, a cache, ranges.

Everything that goes over the network (or reads a ``file://`` index) passes
through here, so retries, offline mode, redaction of credentials and the
on-disk response cache are decided once. From the bottom up:
:mod:`.urls` (URL helpers), :mod:`.errors`, :mod:`.transport` (connections,
credentials, retries), :mod:`.response_cache` (cached whole responses),
:mod:`.download` (verified, resumable downloads to disk) and
:mod:`.client` (:class:`~bundler.net.client.HttpClient`, the one entry point).
"""
