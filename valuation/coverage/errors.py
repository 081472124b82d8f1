"""What the coverage engine refuses to compute, rather than return a wrong number."""

from __future__ import annotations

from collections.abc import Iterable


class CoverageInputError(ValueError):
    """The frames break the input contract (frames.py) in a way no default can paper over."""


class MissingFxRates(CoverageInputError):
    """Some lien's claim currency differs from its asset's valuation currency and no rate was given."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs = sorted(set(pairs))
        listed = ", ".join(f"{a}->{b}" for a, b in self.pairs)
        super().__init__(f"missing fx rates (valuation currency -> loan currency): {listed}")


class WhatIfError(ValueError):
    """A proposed restructuring change that cannot be applied to the book, with the reason, the field at
    fault when it is one ref (an unknown loan, lien or asset), and, once apply_changes has seen it, the
    change's position in the proposal."""

    def __init__(self, reason: str, *, index: int | None = None, field: str | None = None) -> None:
        self.reason, self.index, self.field = reason, index, field  # field: the ref the change names wrongly
        super().__init__(reason if index is None else f"change {index}: {reason}")
