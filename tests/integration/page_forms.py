"""A GET form of a page submitted as a browser would: every control it holds with its current value (hidden
fields, typed fields, the selected option, a checked box), some of them changed by the test."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode


@dataclass
class Form:
    attrs: dict[str, str]
    fields: list[tuple[str, str]] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a)
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self._form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._form is not None and self._select:
            chosen = [v for v, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self._form.fields += [(self._select, v) for v in chosen]
            self._select = None


def find_form(html: str, key: str) -> Form:
    """The one form whose data-testid, or else whose action, is `key`."""
    parser = _Forms()
    parser.feed(html)
    found = [f for f in parser.forms if f.attrs.get("data-testid") == key] or [
        f for f in parser.forms if f.attrs.get("action") == key
    ]
    assert len(found) == 1, f"{len(found)} forms with data-testid or action {key!r}"
    return found[0]


def submit(html: str, key: str, **typed: str) -> str:
    """The URL the GET form `key` (find_form) goes to once the test has typed `typed` into its controls (by name)."""
    form = find_form(html, key)
    names = {name for name, _ in form.fields}
    missing = set(typed) - names
    assert not missing, f"the form has no control named {missing}"
    sent = [(name, typed.get(name, value)) for name, value in form.fields]
    return f"{form.attrs['action']}?{urlencode(sent)}"
