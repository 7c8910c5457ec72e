"""The dashboard's languages: en, fr, nl and de, from `templates/web/<lang>.json`.

`?lang=` wins, then the browser's Accept-Language (q-values honoured), then English.
Messages are plain text with `{name}` placeholders; the HTML templates escape them. Plurals,
numbers and dates follow CLDR through `bot.messages.l10n` (Babel).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from bot.messages import l10n

log = logging.getLogger(__name__)

WEB_LANGUAGES = l10n.LANGUAGES
DEFAULT = l10n.DEFAULT
catalog = l10n.catalog


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
        text = catalog(self.lang).get(key)
        if text is None:
            # Logged so that the template test can reject it; the page still shows something.
            log.warning("untranslated dashboard message %r in %s", key, self.lang)
            text = catalog(DEFAULT).get(key) or key
        if values:
            text = text.format_map({k: self._value(v) for k, v in values.items()})
        return text

    def plural(self, key: str, n: int, **values: object) -> str:
        """`key_<CLDR category of n>` (`key_other` when the language has no such form);
        `{n}` is the count, formatted."""
        category = l10n.plural_category(n, self.lang)
        name = f"{key}_{category}" if f"{key}_{category}" in catalog(self.lang) else f"{key}_other"
        return self(name, n=l10n.integer(n, self.lang), **values)

    def _value(self, value: object) -> str:
        if isinstance(value, float):
            return self.number(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return l10n.integer(value, self.lang)
        return str(value)

    def number(self, value: float | None, digits: int = 1) -> str:
        return l10n.number(value, self.lang, digits)

    def percent(self, share: float | None) -> str:
        return l10n.percent(share, self.lang)

    def day(self, when: date | datetime | None) -> str:
        return l10n.day(when, self.lang)

    def stamp(self, when: datetime | None) -> str:
        return l10n.stamp(when, self.lang)

    def author_class(self, value: str | None) -> str:
        return l10n.author_class(value, self.lang)

    def organisation(self, name: str | None) -> str:
        return l10n.organisation(name, self.lang)
