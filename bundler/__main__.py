"""``python -m bundler`` runs the kbundle command line."""

from bundler.cli import main

main()
