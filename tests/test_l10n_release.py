"""CLDR's locale data is dropped once unused (bot/messages/l10n.py: ~5 MB a process between
bursts), and read again, unchanged, when next needed."""

from __future__ import annotations

import time
from datetime import date

import babel.core
import babel.localedata

from bot.messages import l10n


def test_locale_data_is_dropped_once_idle_and_read_again_when_needed() -> None:
    before = {lang: l10n.day(date(2026, 3, 2), lang) for lang in l10n.LANGUAGES}
    assert babel.localedata._cache  # Babel keeps what it read
    used = time.monotonic()
    assert not l10n.release_idle(used)  # just used: kept
    assert l10n.release_idle(used + l10n.IDLE_RELEASE_SECONDS)
    assert not babel.localedata._cache
    assert not getattr(babel.localedata, "_dict_cache", {})  # Babel's views of it too
    assert babel.core._global_data is None
    after = {lang: l10n.day(date(2026, 3, 2), lang) for lang in l10n.LANGUAGES}
    assert babel.localedata._cache  # read again from Babel's files: nothing held the old data
    assert (
        after
        == before
        == {
            "en": "2 March 2026",
            "fr": "2 mars 2026",
            "nl": "2 maart 2026",
            "de": "2. März 2026",
        }
    )
