"""Stage 0, the request: what the user asks for, from every place they can say it.

Requirement arguments and files (:mod:`.requirements_file`), the
``[tool.kbundle]`` table of ``pyproject.toml`` (:mod:`.config`), checks on
typed names and URLs made before any request is sent (:mod:`.inputs`), and
the precedence that merges them into one
:class:`~bundler.request.model.LockRequest` (:mod:`.assemble`).
"""
