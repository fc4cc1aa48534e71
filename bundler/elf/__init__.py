"""Native libraries, read without running them: ELF dynamic sections and CUDA fatbins.

Pure readers used by vendor (the CUDA libraries' load order) and check (what
each library needs from the target): :mod:`.reader` for ELF files,
:mod:`.fatbin` for the CUDA device code inside them. Policy about those facts
(which sonames an image provides, what a CUDA soname implies) lives in
:mod:`bundler.check.system_libs`.
"""
