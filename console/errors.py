"""The console's exception tree.

ConsoleError                 base of everything the console raises on purpose
├── ConfigError              the site file or environment is invalid (carries every problem with its path)
├── PayloadError             an inbound message cannot be decoded or validated (it goes to quarantine)
├── StoreError               the database cannot be reached or migrated
├── AuthError                login failed or a credential is missing, expired or lacks the role
└── Refusal                  a request the console refuses: an HTTP status, a stable code the pages word
    │                        from their catalogues (err.<code>), its parameters, and an English text
    ├── TaskError            an action the task cannot take now (console/tasks/machine.py; 409)
    │   ├── NotFound         no such task, dispatch or guard (404)
    │   └── Forbidden        not this user's to do (403)
    ├── PlaceError           a scanned code that is not a location of this site (422)
    ├── RegistryError        a registration the registry refuses (409)
    ├── PlanError            a floor plan or marker refused (its own status)
    └── ReferenceRefused     a camera frame not fit to be the reference (409)
"""

from __future__ import annotations

from typing import Any


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




class Refusal(ConsoleError):
    """A request refused on purpose. The API answers ``status`` with ``{"detail": text, "code": code,
    "params": params}``: API clients read ``detail`` (English), the pages word ``code`` from their
    catalogues in the reader's language (``err.<code>``, with ``params`` filled in)."""

    status = 409

    def __init__(self, code: str, text: str, *, status: int | None = None, headers: dict[str, str] | None = None,
                 **params: Any):
        self.code = code
        self.text = text
        self.params = params
        self.headers = headers
        if status is not None:
            self.status = status
        super().__init__(text)

class AuthError(Refusal):
    """Authentication or authorisation failed."""
