"""The request: what the user asks for, from every place they can say it.

Requirement arguments and files (:mod:`.requirements_file`, its options in
:mod:`.requirement_options`), the ``[tool.kbundle]`` table of
``pyproject.toml`` (:mod:`.config`), pip's configuration files
(:mod:`.pip_config`) and the index settings they make (:mod:`.index_config`),
merged with one precedence (command line > requirement files > pyproject >
pip config) into a :class:`~bundler.request.model.LockRequest` by
:mod:`.assemble`; :mod:`.relock` decides whether ``kbundle vendor`` must lock
first.
"""
