"""The target: the fixed image a bundle must run on.

Python version and platform tags (:mod:`.tags`), glibc, CUDA driver and GPU
architectures (:mod:`.cuda`), and the packages the image already has
(:mod:`.manifest`). A target comes from a preset (:mod:`.presets`), a target
file (:mod:`.file`) or a capture of a live interpreter (:mod:`.capture`, which
runs the stdlib-only :mod:`.probe` there). Everything later asks the
:class:`~bundler.target.model.Target`, never the machine kbundle runs on.
"""
