"""Exceptions shared by every part of digipath.

Library code raises these with the offending id/row; the API turns them into RFC 9457
problem+json bodies keyed by ``type``; the CLI prints ``str(exc)`` on one line and exits non-zero.
"""

from __future__ import annotations


class DigipathError(Exception):
    """Base class. ``type`` is a stable slug used in problem+json ``type`` URIs."""

    type = "digipath-error"
    status = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.detail


class UnknownIdError(DigipathError, KeyError):
    type = "unknown-id"
    status = 404

    def __init__(self, kind: str, id: str, detail: str | None = None):
        self.kind = kind
        self.id = id
        super().__init__(detail or f"unknown {kind} id {id!r}")


class ValidationError(DigipathError, ValueError):
    type = "validation"
    status = 422

    def __init__(self, reason: str, *, where: str | None = None, row: int | None = None,
                 field: str | None = None):
        self.reason = reason
        self.where = where
        self.row = row
        self.field = field
        parts = []
        if where is not None:
            parts.append(str(where))
        if row is not None:
            parts.append(f"row {row}")
        if field is not None:
            parts.append(f"field {field!r}")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class ItemBankValidationError(ValidationError):
    type = "item-bank-validation"

    def __init__(self, reason: str, *, item_id: str | None = None, field: str | None = None):
        self.item_id = item_id
        super().__init__(reason, where=f"item {item_id!r}" if item_id is not None else None, field=field)


class DataFileError(ValidationError):
    """A bad row in an input file: names the file, the line (1-based, header = line 1) and the column."""

    type = "data-file"

    def __init__(self, reason: str, *, file: str, line: int | None = None, column: str | None = None):
        self.file = file
        self.line = line
        self.column = column
        super().__init__(reason, where=str(file), row=line, field=column)


class SessionError(DigipathError):
    type = "session-error"
    status = 409


class WrongItemError(SessionError):
    type = "wrong-item"


class AlreadyAnsweredError(SessionError):
    type = "already-answered"


class SessionFinishedError(SessionError):
    type = "session-finished"


class InvalidAnswerError(SessionError):
    type = "invalid-answer"
    status = 422


class ModelNotFoundError(DigipathError):
    type = "model-not-found"
    status = 404


class RegistryUnavailableError(DigipathError):
    type = "registry-unavailable"
    status = 503
