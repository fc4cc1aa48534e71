"""Stage 5b, vendor: locked wheels installed into a ``lib/`` folder that activates itself.

:func:`~bundler.vendor.run.run_vendor` fetches (and builds) every locked
artifact, unpacks each wheel once into a verified cache (:mod:`.unpack`,
:mod:`.unpacked`), links a staging lib from there (:mod:`.install`), writes the
``kbundle_boot`` module (:mod:`.bootstrap`, :mod:`.offline_env`) and swaps
the new lib in atomically (:mod:`.libswap`, guarded by :mod:`.libdest`).
:mod:`.wheelhouse` is the other output: wheels plus a hash-pinned
requirements file.
"""
