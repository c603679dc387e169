"""Errors that crossrank reports to the user as one line."""

from __future__ import annotations


class CrossrankError(Exception):
    """A user-facing error: bad data, a bad config value, a missing model.

    The entry points print ``error: <message>`` on one line and exit with status 2.
    """


class DataError(CrossrankError):
    """Malformed or inconsistent input data; the message names the file and line."""


class ConfigError(CrossrankError):
    """A config key with a value crossrank cannot use; the message names the key."""


def first_line(error: BaseException, limit: int | None = 200) -> str:
    """An exception's first line for a one-line message (its type's name when it says nothing), cut at ``limit``."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]
