"""Vendor: locked wheels installed into a ``lib/`` folder that activates itself.

:func:`~bundler.vendor.run.run_vendor` takes a :class:`~.request.VendorRequest`
and runs the steps: fetch (and build) every locked artifact (:mod:`.fetch`),
unpack each wheel once into a verified cache (:mod:`.unpack`,
:mod:`.unpacked`), link a staging lib from there (:mod:`.install`), write the
``kbundle_boot`` module and ``kbundle.json`` (:mod:`.lib_manifest`,
:mod:`.bootstrap`, :mod:`.offline_env`) and swap the new lib in atomically
(:mod:`.libswap`, guarded by :mod:`.libdest`). :mod:`.wheelhouse` is the other
output: wheels plus a hash-pinned requirements file.
"""
