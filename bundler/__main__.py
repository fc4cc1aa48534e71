"""``python -m bundler`` and the ``kbundle`` console script."""

import sys


def main() -> None:
    """Run the kbundle command line (:func:`bundler.cli.main`)."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        # Answered before click is imported, which is most of the start-up
        # time; the text is click's version_option message (a test holds them equal).
        from bundler import __version__

        print(f"kbundle, version {__version__}")
        return
    from bundler.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
