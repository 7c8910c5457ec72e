"""The dashboard's languages: French and English, from `templates/web/<lang>.json`.

`?lang=fr|en` wins, then the browser's Accept-Language (q-values honoured), then English.
Messages are plain text with `{name}` placeholders; the HTML templates escape them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.resources import templates_dir

WEB_LANGUAGES = ("en", "fr")
DEFAULT = "en"

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}


@functools.cache
def catalog(lang: str) -> Mapping[str, str]:
    path = templates_dir() / "web" / f"{lang}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return {str(k): str(v) for k, v in data.items()}


def negotiate(query_lang: str | None, accept_language: str | None) -> tuple[str, bool]:
    """(language, chosen explicitly by `?lang=`)."""
    if query_lang in WEB_LANGUAGES:
        return str(query_lang), True
    best, best_q = DEFAULT, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if base in WEB_LANGUAGES and q > best_q:
            best, best_q = base, q
    return best, False


@dataclass(frozen=True)
class Messages:
    lang: str

    def __call__(self, key: str, **values: object) -> str:
        text = catalog(self.lang).get(key) or catalog(DEFAULT).get(key) or key
        if values:
            text = text.format_map({k: self._value(v) for k, v in values.items()})
        return text

    def plural(self, key: str, n: int) -> str:
        """`key_one` for one (and zero in French), `key` otherwise; `{n}` is the count."""
        one = n == 1 or (self.lang == "fr" and n == 0)
        return self(f"{key}_one" if one else key, n=n)

    def _value(self, value: object) -> str:
        if isinstance(value, float):
            return self.number(value)
        return str(value)

    def number(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        text = f"{value:,.{digits}f}"
        if self.lang == "fr":
            text = text.replace(",", "\u202f").replace(".", ",")
        return text

    def percent(self, share: float | None) -> str:
        if share is None:
            return "—"
        value = f"{share * 100:.0f}"
        return f"{value}\u00a0%" if self.lang == "fr" else f"{value}%"

    def day(self, when: datetime | None) -> str:
        if when is None:
            return "—"
        month = MONTHS[self.lang].split()[when.month - 1]
        return f"{when.day} {month} {when.year}"

    def stamp(self, when: datetime | None) -> str:
        if when is None:
            return "—"
        return f"{self.day(when)}, {when:%H:%M} UTC"
