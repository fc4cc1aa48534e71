"""``python -m bundler`` and the ``kbundle`` console script."""

import gc
import sys


def main() -> None:
    """Run the kbundle command line (:func:`bundler.cli.main`)."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        # Answered before click is imported, which is most of the start-up
        # time; the text is click's version_option message (a test holds them equal).
        from bundler import __version__

        print(f"kbundle, version {__version__}")
        return
    # A run builds many small, long-lived objects (a 726-package image, parsed
    # index pages, the resolver's state) and the cyclic collector walks them
    # again and again, then once more at exit: about 15% of a warm vendor.
    # Collect less often (as mypy does), and freeze what is left at the end so
    # the interpreter's final collections skip it; the OS takes the memory back.
    gc.set_threshold(100_000, 50, 100)
    from bundler.cli import main as cli_main

    try:
        cli_main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    main()
