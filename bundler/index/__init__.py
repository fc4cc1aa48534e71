"""The index: which files each project offers, their metadata, their bytes.

Simple Repository API pages (:mod:`.simple_api`); the file finder that asks
the indexes in priority order (:mod:`.file_finder`); the metadata store that
gets each file's core metadata the cheapest way (:mod:`.metadata_store`):
PEP 658 sidecar files, HTTP range reads of a wheel (:mod:`.lazy_wheel`) or
of an sdist (:mod:`.sdist_metadata`); the verified download cache
(:mod:`.download`); and :mod:`.finder`, which puts the three behind one
object. Index settings come from :mod:`bundler.request.index_config`.
"""
