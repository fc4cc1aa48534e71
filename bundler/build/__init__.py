"""Build: a wheel from an sdist when the index has none for the target.

:mod:`.recipes` decides how (environment, CUDA runtime, cache key);
:mod:`.builder` runs the isolated build and caches its wheel. The lock stage
also uses :func:`~bundler.build.builder.prepare_metadata` for sdists whose
dependencies are only known to their build backend.
"""
