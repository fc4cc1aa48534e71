"""The one error hierarchy of kbundle.

Every failure a user can cause or fix is a :class:`KbundleError`. Subclasses
carry structured fields; the CLI renders ``str(error)`` as one paragraph and
exits with :attr:`KbundleError.exit_code`. Nothing else may reach the user as
a traceback.
"""

from __future__ import annotations


class KbundleError(Exception):
    """Base class: a message for people and the exit code the CLI uses."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            sep = " " if self.message.endswith((".", "!", "?", ":")) else ". "
            return f"{self.message}{sep}{self.hint}"
        return self.message


class InputError(KbundleError):
    """Bad input from the user: a file, an option or a value (exit code 2).

    ``source`` names the file (or option) and ``line`` the 1-based line, when
    known, so the message can point at the exact place.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(where + message, hint=hint)
        self.source = source
        self.line = line


class NetworkError(KbundleError):
    """An index or file could not be fetched (exit code 1)."""


class OfflineMiss(NetworkError):
    """``--offline`` was given and the cache does not hold what is needed."""
