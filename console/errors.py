"""The console's exception tree.

ConsoleError                 base of everything the console raises on purpose
├── ConfigError              the site file or environment is invalid (carries every problem with its path)
├── PayloadError             an inbound message cannot be decoded or validated (it goes to quarantine)
├── StoreError               the database cannot be reached or migrated
└── AuthError                login failed or a credential is missing, expired or lacks the role
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base class of the console's own errors."""


class ConfigError(ConsoleError):
    """Invalid configuration; ``problems`` holds ``(path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))


class PayloadError(ConsoleError):
    """An inbound message that cannot become a canonical event; ``reason`` is shown to admins."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class StoreError(ConsoleError):
    """The store failed in a way the caller cannot fix by retrying the same input."""


class AuthError(ConsoleError):
    """Authentication or authorisation failed."""
