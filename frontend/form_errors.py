"""What every page form does with refusals: errors kept by control, a decode error put on its control, and the
errors no control on the page is about said at the top. Each form class names its own controls."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

_MSGSPEC_PATH = re.compile(r"^(.*) - at `\$\.?(.*)`$")
_TOO_LONG = re.compile(r"^Expected `str` of length <= (\d+)$")


class FormErrors:
    """Mixed into a form dataclass that has `errors`, `general` and `placed`."""

    errors: dict[str, str]
    general: list[str]
    placed: set[str]

    def add(self, name: str, reason: str) -> None:
        self.errors.setdefault(name, reason)

    def form_name(self, service_field: str) -> str:
        """The control a service's field name is shown beside; the field itself by default."""
        return service_field

    def invalid_shape(self, exc: msgspec.ValidationError) -> None:
        found = _MSGSPEC_PATH.match(str(exc))
        if found:
            reason = _TOO_LONG.sub(r"at most \1 characters", found.group(1))
            self.add(self.form_name(found.group(2)), reason)
        else:
            self.general.append(str(exc))

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def unplaced(self) -> list[str]:
        """Errors about no control on the page, said at the top of the form."""
        return self.general + [f"{name}: {reason}" for name, reason in self.errors.items() if name not in self.placed]


def form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def convert_body(form: FormErrors, body: dict[str, Any], shape: type[Any]) -> Any:
    """The request body as the API would decode it, or None with the decode error put on its control; None too
    when the form already has errors (nothing is sent to the service then)."""
    if not form.ok:
        return None
    try:
        return msgspec.convert(body, shape)
    except msgspec.ValidationError as exc:
        form.invalid_shape(exc)
        return None
