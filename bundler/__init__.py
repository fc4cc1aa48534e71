"""kbundle: lock, vendor and check Python dependencies for a fixed offline image."""

__version__ = "0.1.0"
