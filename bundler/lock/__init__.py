"""Stage 4, the lock: a resolution made durable.

:func:`~bundler.lock.run.run_lock` is ``kbundle lock`` as a library call: it
prefetches what the resolver will ask for (:mod:`.prefetch`), resolves, and
returns a :class:`~bundler.lock.model.Lock`, which :mod:`.pylock` writes as
a PEP 751 ``pylock.toml`` and reads back for vendor and check.
"""
