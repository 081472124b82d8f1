"""Who may do what in disposal (DESIGN section 1). Pure data."""

from __future__ import annotations

from registry.roles import REGISTRY_READERS, Role

# Opening cases, scheduling rounds, offers and settlements: disposal officers only. Four eyes on accepting an
# offer and confirming a settlement needs a second disposal officer, never the same user.
DISPOSAL_WRITERS = frozenset({Role.DISPOSAL_OFFICER})
# Staff read the whole case file; auditors read it too. Bidders never see a case (only their auctions).
CASE_READERS = REGISTRY_READERS
# A round's public figures (price, end, aliases) are for the bidders too.
ROUND_READERS = CASE_READERS | {Role.BIDDER}
