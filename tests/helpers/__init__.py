"""Shared test helpers, imported by tests (never from conftest.py): running kbundle
(run.py), real wheels and sdists (wheels.py), a loopback package index
(index_server.py), native libraries (native.py), image venvs and captures
(image.py), hand-built targets, manifests and locks (targets.py, manifest.py,
locks.py, presets.py), finders and progress recorders (finder.py, progress.py)."""
