"""The lock: a resolution made durable.

:func:`~bundler.lock.run.run_lock` is ``kbundle lock`` as a library call: it
prefetches what the resolver will ask for (:mod:`.prefetch`), resolves, and
returns a :class:`~bundler.lock.model.Lock`. :mod:`.pylock` is the layout of
the PEP 751 ``pylock.toml`` it becomes, :mod:`.pylock_write` writes it,
:mod:`.pylock_read` reads it back for vendor and check, and
:mod:`.requirements_txt` exports it for plain pip.
"""
