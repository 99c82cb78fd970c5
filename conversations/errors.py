"""The domain's refusals, each with a kind, so that every surface maps a refusal once by its kind
(chat text, command-line exit code, HTTP status) and never by matching the Vietnamese words.

Kinds: the thing named does not exist (`NOT_FOUND`), it exists but is outside the actor's scope
(`OUT_OF_SCOPE`, worded like not found so that a district cannot probe the province), the report is
not in a state that allows the action (`STATE`), or a value given is malformed (`BAD_VALUE`).
Pure: no I/O.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    NOT_FOUND = "not_found"
    OUT_OF_SCOPE = "out_of_scope"
    STATE = "state"
    BAD_VALUE = "bad_value"


class DomainError(ValueError):
    """A refused request: `kind` says which sort, the text is one Vietnamese line for people."""

    kind: ErrorKind = ErrorKind.BAD_VALUE

    def __init__(self, message: str, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class OutOfScope(DomainError):
    kind = ErrorKind.OUT_OF_SCOPE


class NotAllowedNow(DomainError):
    """The report's status does not allow the action; `status` is the status it was found in."""

    kind = ErrorKind.STATE

    def __init__(self, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status


class BadValue(DomainError):
    kind = ErrorKind.BAD_VALUE
