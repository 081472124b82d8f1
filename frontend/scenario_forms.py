"""The stress and what-if forms: what a person typed, read into the services' request shapes, and every
complaint tied to the form control it is about.

Controls are named as the services name the fields (`by_kind[2].change_pct`, `changes[1].loan_id`), so an
error the service raises lands next to the control that caused it. Blank rows are skipped, so the
service's index of a shock or change is not the form's row: `rows` maps one to the other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from frontend.amounts import plain_amount
from frontend.form_errors import FormErrors, form_text
from frontend.saved_regions import BY_KEY
from registry import dates
from registry.errors import InvalidInputError
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.schemas.assets import ASSET_KINDS
from registry.services.parcel_search import parse_region
from valuation.coverage import fx
from valuation.coverage_schemas import StressScenario, WhatIfProposal
from valuation.services.stress import multiplier

KIND_ROWS = 4
REGION_ROWS = 2
CHANGE_ROWS = 5
LABEL_MAX = 32
LIEN_STATUSES = ("registered", "submitted", "draft")

# What each change type needs, and what it may also be given (DESIGN 5, valuation.coverage_schemas).
CHANGE_TYPES = {
    "capitalise_interest": ("Capitalise interest", ("loan_id",), ("amount",)),
    "set_balance": ("Set a loan's balance", ("loan_id",), BALANCE_COMPONENTS),
    "add_lien": ("Add a lien", ("lien_id", "asset_id", "loan_ids"), ("perfected_at", "status", "cap", "expires_on")),
    "release_lien": ("Release a lien", ("lien_id",), ()),
    "substitute_asset": ("Substitute the asset", ("lien_id", "asset_id"), ()),
}
CHANGE_FIELDS = (
    "loan_id",
    "lien_id",
    "asset_id",
    "loan_ids",
    "amount",
    "principal",
    "interest",
    "penalty",
    "fees",
    "cap",
    "perfected_at",
    "status",
    "expires_on",
)
AMOUNT_FIELDS = frozenset({"amount", *BALANCE_COMPONENTS, "cap"})
# The types each control serves, for the page script that shows only those of the chosen type.
FIELD_TYPES = {
    name: tuple(t for t, (_, needs, may) in CHANGE_TYPES.items() if name in needs or name in may)
    for name in CHANGE_FIELDS
}
MISSING = {
    "loan_id": "enter the loan's ref",
    "lien_id": "enter the lien's ref",
    "asset_id": "enter the asset's ref",
    "loan_ids": "enter the refs of the loans it secures, separated by commas",
}
_INDEXED = re.compile(r"^(by_kind|by_region|changes|fx)\[(\d+)\](.*)$")


@dataclass
class ScenarioForm(FormErrors):
    """The form as typed, the request it makes (None while anything is wrong) and the errors by control."""

    values: dict[str, Any]
    as_of: date | None = None
    include_unperfected: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)  # service index -> form row, per list
    general: list[str] = field(default_factory=list)
    placed: set[str] = field(default_factory=set)  # the controls (and change rows) the page shows
    fx: list[str] = field(default_factory=list)  # the rates typed in the one FX field

    def form_name(self, service_field: str) -> str:
        """by_kind[0].change_pct as the service names it -> the form control, by_kind[3].change_pct."""
        found = _INDEXED.match(service_field)
        if not found:
            return service_field
        part, index, rest = found.group(1), int(found.group(2)), found.group(3)
        if part == "fx":
            return "fx"  # every rate is typed in the one field
        rows = self.rows.get(part, [])
        return f"{part}[{rows[index]}]{rest}" if index < len(rows) else service_field

    def refused(self, exc: InvalidInputError) -> None:
        for service_field, reason in exc.errors:
            self.add(self.form_name(service_field), reason)


def _common(form: Mapping[str, Any], values: dict[str, Any]) -> ScenarioForm:
    out = ScenarioForm(values=values, include_unperfected=form.get("include_unperfected") == "true")
    out.placed.update({"as_of", "include_unperfected"})
    if text := form_text(form, "as_of"):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            out.add("as_of", f"{text!r} is not a date such as 2026-06-30")
        else:
            if reason := dates.out_of_range(day):
                out.add("as_of", reason)
            else:
                out.as_of = day
    out.placed.add("fx")
    out.fx = fx.split_rates(form_text(form, "fx"))
    return out


def _percent(out: ScenarioForm, name: str, text: str) -> str:
    """The change as the service takes it ("-30"), a trailing % forgiven; the error placed if it is bad."""
    pct = text.removesuffix("%").strip()
    if not pct:
        out.add(name, 'give a percentage change such as "-20" (from -100 to +1000)')
    else:
        try:
            multiplier(pct)
        except ValueError as exc:
            out.add(name, str(exc))
    return pct


def _kind_shocks(out: ScenarioForm, values: dict[str, Any]) -> list[dict[str, Any]]:
    shocks: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i in range(KIND_ROWS):
        kind_name, pct_name = f"by_kind[{i}].kind", f"by_kind[{i}].change_pct"
        out.placed.update({kind_name, pct_name, f"by_kind[{i}]"})
        kind, pct_text = values.get(kind_name, ""), values.get(pct_name, "")
        if not kind and not pct_text:
            continue
        if kind not in ASSET_KINDS:
            out.add(kind_name, "choose the kind of asset to shock" if not kind else f"unknown kind {kind!r}")
        elif kind in seen:
            out.add(kind_name, f"{kind} is already shocked in row {seen[kind] + 1}: give one change per kind")
        else:
            seen[kind] = i
        shocks.append({"kind": kind, "change_pct": _percent(out, pct_name, pct_text)})
        out.rows["by_kind"].append(i)
    return shocks


def _region(out: ScenarioForm, name: str, text: str, saved_name: str, saved: str) -> dict[str, Any]:
    """The region drawn or pasted as GeoJSON, else the saved region picked (the page's script copies a pick into the
    GeoJSON field; without script only the pick arrives), checked as the service will check it; {} (and the error
    placed) when it is bad."""
    if not text and saved:
        if saved not in BY_KEY:
            out.add(saved_name, "not one of the saved regions")
            return {}
        return BY_KEY[saved].geometry
    if not text:
        out.add(name, "draw the region on the map, pick a saved region, or paste it as GeoJSON")
        return {}
    try:
        region = json.loads(text)
    except ValueError as exc:
        out.add(name, f"not GeoJSON: {exc}")
        return {}
    except RecursionError:
        out.add(name, "not GeoJSON: nested too deeply")
        return {}
    if not isinstance(region, dict):
        out.add(name, "a GeoJSON Polygon or MultiPolygon object, in braces")
        return {}
    try:
        parse_region(region, name)
    except InvalidInputError as exc:
        out.refused(exc)
    return region


def _region_shocks(out: ScenarioForm, form: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    shocks: list[dict[str, Any]] = []
    for i in range(REGION_ROWS):
        names = {part: f"by_region[{i}].{part}" for part in ("region", "change_pct", "kinds", "label", "saved")}
        out.placed.update({*names.values(), f"by_region[{i}]"})
        kinds = [k for k in form.getall(names["kinds"], []) if isinstance(k, str) and k]
        values[names["kinds"]] = kinds
        region_text, pct_text, label, saved = (
            values.get(names[p], "") for p in ("region", "change_pct", "label", "saved")
        )
        if not region_text and not pct_text and not label and not kinds and not saved:
            continue
        shock: dict[str, Any] = {
            "region": _region(out, names["region"], region_text, names["saved"], saved),
            "change_pct": _percent(out, names["change_pct"], pct_text),
        }
        if unknown := [k for k in kinds if k not in ASSET_KINDS]:
            out.add(names["kinds"], f"unknown kind {unknown[0]!r}")
        elif kinds:
            shock["kinds"] = kinds
        if len(label) > LABEL_MAX:
            out.add(names["label"], f"at most {LABEL_MAX} characters, not {len(label)}")
        elif label:
            shock["label"] = label
        shocks.append(shock)
        out.rows["by_region"].append(i)
    return shocks


def read_stress(form: Any) -> tuple[ScenarioForm, StressScenario | None]:
    """The stress form (a FormMultiDict) as a scenario, or the reasons it is not one."""
    values: dict[str, Any] = {name: form_text(form, name) for name in form}
    out = _common(form, values)
    out.rows = {"by_kind": [], "by_region": []}
    by_kind, by_region = _kind_shocks(out, values), _region_shocks(out, form, values)
    if not by_kind and not by_region:
        out.add("by_kind[0].kind", "a scenario needs at least one shock: choose a kind, or draw or pick a region")
    if not out.ok:
        return out, None
    try:
        scenario = msgspec.convert(
            {
                "by_kind": by_kind,
                "by_region": by_region,
                "as_of": out.as_of,
                "include_unperfected": out.include_unperfected,
                "fx": out.fx,
            },
            StressScenario,
        )
    except msgspec.ValidationError as exc:
        out.invalid_shape(exc)
        return out, None
    return out, scenario


def _when(out: ScenarioForm, name: str, text: str) -> str | None:
    """A datetime-local value ("2026-03-01T09:30") read as UTC, in the ISO form the service takes."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        out.add(name, f"{text!r} is not a date and time such as 2026-03-01T09:30")
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _change(out: ScenarioForm, i: int, values: dict[str, Any]) -> dict[str, Any] | None:
    """Row i as one proposed change, None when the row is blank or wrong (the errors are placed)."""
    at = f"changes[{i}]"
    typed = {name: values.get(f"{at}.{name}", "") for name in CHANGE_FIELDS}
    kind = values.get(f"{at}.type", "")
    if not kind and not any(v for name, v in typed.items() if name != "status"):
        return None
    if kind not in CHANGE_TYPES:
        out.add(f"{at}.type", "choose what this change does" if not kind else f"unknown change {kind!r}")
        return None
    _, needs, may = CHANGE_TYPES[kind]
    change: dict[str, Any] = {"type": kind}
    for name in needs:
        if not typed[name]:
            out.add(f"{at}.{name}", MISSING[name])
    for name in (*needs, *may):
        text = typed[name]
        if not text:
            continue
        if name == "loan_ids":
            change[name] = [ref for ref in re.split(r"[,\s]+", text) if ref]
        elif name == "perfected_at":
            change[name] = _when(out, f"{at}.{name}", text)
        elif name == "expires_on":
            try:
                change[name] = date.fromisoformat(text).isoformat()
            except ValueError:
                out.add(f"{at}.{name}", f"{text!r} is not a date such as 2031-12-31")
        elif name in AMOUNT_FIELDS:
            change[name] = plain_amount(text)
        else:
            change[name] = text
    if kind == "set_balance" and not any(typed[name] for name in may):
        out.add(f"{at}.principal", "give at least one new balance: principal, interest, penalty or fees")
    return change


def read_whatif(form: Any) -> tuple[ScenarioForm, WhatIfProposal | None]:
    """The what-if form (a FormMultiDict) as a proposal, or the reasons it is not one."""
    values: dict[str, Any] = {name: form_text(form, name) for name in form}
    out = _common(form, values)
    out.rows = {"changes": []}
    changes: list[dict[str, Any]] = []
    for i in range(CHANGE_ROWS):
        out.placed.update({f"changes[{i}]", f"changes[{i}].type", *(f"changes[{i}].{n}" for n in CHANGE_FIELDS)})
        change = _change(out, i, values)
        if change is not None:
            changes.append(change)
            out.rows["changes"].append(i)
    if not changes and not out.errors:
        out.add("changes[0].type", "propose at least one change")
    if not out.ok:
        return out, None
    try:
        proposal = msgspec.convert(
            {"changes": changes, "as_of": out.as_of, "include_unperfected": out.include_unperfected, "fx": out.fx},
            WhatIfProposal,
        )
    except msgspec.ValidationError as exc:
        out.invalid_shape(exc)
        return out, None
    return out, proposal
