"""Native libraries, read without running them: ELF dynamic sections and CUDA fatbins.

Pure readers used by vendor (the CUDA libraries' load order) and check (what
each library needs from the target). Policy about those facts lives in
:mod:`bundler.check`.
"""
