"""Priority among the liens on one asset (DESIGN section 4; Civil Code art. 414/415, UCC 9-322). Pure.

Registered liens rank by perfected_at, earliest first, equal times sharing a rank (dense ranks:
the next distinct time takes the next number). Every lien still alive but not registered (draft,
submitted) shares the one rank after them. Released, rejected and expired liens have no rank.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from registry.registration import TERMINAL, RegistrationStatus


@dataclass(frozen=True, slots=True)
class RankInput:
    ref: str
    status: RegistrationStatus
    perfected_at: datetime | None


def rank_liens(liens: Iterable[RankInput]) -> dict[str, int | None]:
    liens = list(liens)
    registered_times = sorted(
        {lien.perfected_at for lien in liens if lien.status is RegistrationStatus.REGISTERED and lien.perfected_at}
    )
    rank_of_time = {t: i + 1 for i, t in enumerate(registered_times)}
    unregistered_rank = len(registered_times) + 1
    ranks: dict[str, int | None] = {}
    for lien in liens:
        if lien.status in TERMINAL:
            ranks[lien.ref] = None
        elif lien.status is RegistrationStatus.REGISTERED and lien.perfected_at is not None:
            ranks[lien.ref] = rank_of_time[lien.perfected_at]
        else:
            ranks[lien.ref] = unregistered_rank
    return ranks
