"""Stage 2, the index: which files each project offers, and their metadata.

Simple Repository API pages (:mod:`.simple_api`), the finder that asks the
indexes in priority order (:mod:`.finder`), and the cheapest way to each
file's core metadata: PEP 658 sidecar files, HTTP range reads of a wheel
(:mod:`.lazy_wheel`) or of an sdist (:mod:`.sdist_metadata`).
"""
