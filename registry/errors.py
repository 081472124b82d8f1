"""Domain errors. Services raise these; the app maps each to one RFC 9457 problem."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extra(self) -> dict[str, object]:
        return {}


class NotFoundError(DomainError):
    status_code = 404
    title = "Not found"

    def __init__(self, entity: str, ref: str | int, field: str | None = None) -> None:
        self.entity, self.ref, self.field = entity, ref, field
        super().__init__(f"no {entity} with ref {ref!r}")

    def extra(self) -> dict[str, object]:
        out: dict[str, object] = {"entity": self.entity, "ref": str(self.ref)}
        if self.field:
            out["field"] = self.field
        return out


class StateConflictError(DomainError):
    status_code = 409
    title = "Conflict"

    def __init__(self, detail: str, current: str | None = None, allowed: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.current, self.allowed = current, list(allowed)

    def extra(self) -> dict[str, object]:
        return {"current": self.current, "allowed": self.allowed} if self.current is not None else {}


class InvalidInputError(DomainError):
    """422: one or more fields are well-formed JSON but not acceptable values."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in self.errors))

    def extra(self) -> dict[str, object]:
        return {"errors": [{"field": f, "reason": r} for f, r in self.errors]}

    @classmethod
    def one(cls, field: str, reason: str) -> InvalidInputError:
        return cls([(field, reason)])


class FieldErrors:
    """Collects every bad field of a request before refusing it, so the caller sees all at once."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def add(self, field: str, reason: str) -> None:
        self.errors.append((field, reason))

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInputError(self.errors)


class UploadTooLargeError(DomainError):
    """413: an uploaded file over a bound (rows, or bytes once decompressed); it was refused unread."""

    status_code = 413
    title = "Upload too large"

    def __init__(self, file: str, bound: str, limit: int, setting: str) -> None:
        self.file, self.bound, self.limit, self.setting = file, bound, limit, setting
        super().__init__(
            f"{file}: more than {limit:,} {bound}; an uploaded file may have at most {limit:,} ({setting})"
        )

    def extra(self) -> dict[str, object]:
        return {"file": self.file, "bound": self.bound, "limit": self.limit}
