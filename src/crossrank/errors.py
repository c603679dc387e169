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
