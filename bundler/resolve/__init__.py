"""Resolve: a conflict-free closure for the target, and why.

Pure policy over an injected package source: which files are candidates for
the target (:mod:`.candidates`), the resolvelib provider (:mod:`.provider`),
the run itself and the final environment (:mod:`.solve`), which image packages
must follow a shadowed one (:mod:`.shadowing`), what a shadow costs
(:mod:`.shadow_cost`), requested packages held far behind (:mod:`.behind`),
and failures as prose (:mod:`.explain`).
"""
