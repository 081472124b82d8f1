"""The lien registration state machine (DESIGN section 4). Pure."""

from __future__ import annotations

from enum import StrEnum


class RegistrationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    REGISTERED = "registered"
    RELEASED = "released"
    REJECTED = "rejected"
    EXPIRED = "expired"


ALLOWED_MOVES: dict[RegistrationStatus, tuple[RegistrationStatus, ...]] = {
    RegistrationStatus.DRAFT: (RegistrationStatus.SUBMITTED,),
    RegistrationStatus.SUBMITTED: (RegistrationStatus.REGISTERED, RegistrationStatus.REJECTED),
    RegistrationStatus.REGISTERED: (RegistrationStatus.RELEASED, RegistrationStatus.EXPIRED),
    RegistrationStatus.RELEASED: (),
    RegistrationStatus.REJECTED: (),
    RegistrationStatus.EXPIRED: (),
}

# A lien in one of these no longer secures anything: it has no rank and is never counted.
TERMINAL = frozenset({RegistrationStatus.RELEASED, RegistrationStatus.REJECTED, RegistrationStatus.EXPIRED})


class RefusedMove(Exception):
    def __init__(self, current: RegistrationStatus, requested: str) -> None:
        self.current = current
        self.requested = requested
        self.allowed = [s.value for s in ALLOWED_MOVES[current]]
        super().__init__(
            f"a lien in registration status {current.value!r} cannot move to {requested!r}; "
            f"allowed: {', '.join(self.allowed) or 'none (final state)'}"
        )


def move(current: RegistrationStatus, requested: str) -> RegistrationStatus:
    """Return the new status, or raise RefusedMove naming the current state and the allowed moves."""
    try:
        target = RegistrationStatus(requested)
    except ValueError:
        raise RefusedMove(current, requested) from None
    if target not in ALLOWED_MOVES[current]:
        raise RefusedMove(current, requested)
    return target
