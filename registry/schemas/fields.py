"""Length limits of input fields, matching the columns they land in, so an over-long value is a 422
naming the field rather than a database error."""

from __future__ import annotations

from typing import Annotated

import msgspec

# PostgreSQL text cannot hold NUL; refusing it here names the field instead of failing in the database.
_NO_NUL = r"^[^\x00]*$"


def _text(max_length: int, min_length: int = 0) -> msgspec.Meta:
    return msgspec.Meta(min_length=min_length, max_length=max_length, pattern=_NO_NUL)


Ref = Annotated[str, _text(64)]
Name = Annotated[str, _text(255)]
Short = Annotated[str, _text(32)]
IdNumber = Annotated[str, _text(64)]
Currency = Annotated[str, _text(3, 3)]
Rate = Annotated[str, _text(16)]
Amount = Annotated[str, _text(32)]
Memo = Annotated[str, _text(255)]
LongText = Annotated[str, _text(4000)]
RegistrationNumber = Annotated[str, _text(128)]
Username = Annotated[str, _text(64)]
Password = Annotated[str, _text(1024)]
LoanRefs = Annotated[list[Ref], msgspec.Meta(max_length=200)]
Identifiers = Annotated[
    dict[Annotated[str, _text(32, 1)], Annotated[str, _text(128)]],
    msgspec.Meta(max_length=20),
]
