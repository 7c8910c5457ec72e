"""Guess the language of an issue or comment, to answer contributors in their own language.

The guess comes from lingua (`lingua-language-detector`), a detector built for short text whose
n-gram models ship inside the package: no network, no download. It only chooses among the
repository's configured languages. Code, links, mentions and e-mail addresses are removed
first (a French report full of an English stack trace is French), and a title and its body
are read together, so that a two-word title ("Bug carte") is decided by its body. When no
language is clearly ahead, the caller's fallback (the repository's language) is used.

Outside text is hostile: input is cut to a bounded size before any work, and the cleaning
is line by line and token by token (linear time, no backtracking regular expression).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from bot import heap

MAX_INPUT_CHARS = 20_000  # read at most this much of a title or body
MAX_BODY_CHARS = 4_000  # of a body's prose, read after the title
MIN_LETTERS = 12  # fewer letters than this: no guess ("ok", "README", "Bug carte": one or two
# words, which the low-accuracy models below would guess with confidence, often wrongly)
# The leading language's confidence must be this many times the second's. Chosen on the
# corpus (tests/data/language_corpus.jsonl, bench/language.py): with the low-accuracy models
# 5 keeps the accuracy of 1.5 and halves the wrong guesses (a wrong language costs more than
# the repository's); every remaining miss is a title of two to six words read alone.
MIN_LEAD = 5.0

_INLINE_CODE = re.compile(r"`[^`\n]*`")
_FENCE = ("```", "~~~")


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def clean(text: str) -> str:
    """The prose of `text`: without fenced or inline code, HTML comments, links, mentions,
    e-mail addresses, paths and tokens without letters."""
    text = text[:MAX_INPUT_CHARS]
    out: list[str] = []
    in_fence = in_comment = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(_FENCE):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        kept: list[str] = []
        rest = line
        while rest:  # HTML comments, possibly over several lines
            if in_comment:
                end = rest.find("-->")
                if end < 0:
                    rest = ""
                    break
                in_comment, rest = False, rest[end + 3 :]
            else:
                start = rest.find("<!--")
                if start < 0:
                    kept.append(rest)
                    break
                kept.append(rest[:start])
                in_comment, rest = True, rest[start + 4 :]
        words = _INLINE_CODE.sub(" ", "".join(kept)).split()
        out.append(" ".join(w for w in words if _is_prose(w)))
    return "\n".join(line for line in out if line)


def _is_prose(token: str) -> bool:
    if "@" in token or "://" in token or "/" in token or "\\" in token or "_" in token:
        return False
    return any(ch.isalpha() for ch in token)


# The models (~12 MB) are dropped after this long without a guess, and loaded again (0.05 s)
# by the next one: new outside contributions come minutes or days apart.
IDLE_UNLOAD_SECONDS = 60.0
LINGUA_LIBRARY = "/lingua/lingua."  # lingua.cpython-311-x86_64-linux-gnu.so and the like


def _unload() -> bool:
    if _detector.cache_info().currsize == 0:
        return False
    for codes in list(_built):
        _detector(codes).unload_language_models()
    _built.clear()
    _detector.cache_clear()
    return True


# lingua's models are read from its library file: its pages go back with them.
_models = heap.IdleRelease(IDLE_UNLOAD_SECONDS, _unload, files=(LINGUA_LIBRARY,))


def unload_idle(now: float) -> bool:
    """Drop the language models if no guess was made for `IDLE_UNLOAD_SECONDS` before `now`
    (monotonic seconds); whether they were dropped."""
    return _models.release_if_idle(now)


_built: set[tuple[str, ...]] = set()  # the sets of languages `_detector` holds


@lru_cache(maxsize=16)
def _detector(codes: tuple[str, ...]) -> Any:
    """One lingua detector per set of languages (built on first use: models load lazily).

    Low-accuracy mode reads trigrams only: the four languages' models take ~12 MB instead of
    ~145 MB (all n-gram sizes), which alone would exceed the whole service's memory budget;
    on the corpus it loses only titles of a few words read without a body."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_iso_codes_639_1(
        *(IsoCode639_1.from_str(c) for c in codes)
    )
    _built.add(codes)
    return builder.with_low_accuracy_mode().build()


@lru_cache(maxsize=1)
def supported_languages() -> frozenset[str]:
    """Two-letter codes lingua knows."""
    from lingua import Language

    return frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())


def language_scores(text: str, candidates: Iterable[str]) -> dict[str, float]:
    """lingua's confidence per candidate language (summing to 1) for cleaned `text`; all zero
    when it holds too few letters. Exposed for tests and the evaluation bench."""
    codes = tuple(sorted({c.lower() for c in candidates} & supported_languages()))
    prose = clean(text)
    if not codes or _letters(prose) < MIN_LETTERS:
        return dict.fromkeys(codes, 0.0)
    if len(codes) == 1:
        return {codes[0]: 1.0}
    with _models.use():
        values = _detector(codes).compute_language_confidence_values(prose)
    return {v.language.iso_code_639_1.name.lower(): float(v.value) for v in values}


def item_scores(title: str, body: str, candidates: Iterable[str]) -> dict[str, float]:
    """Scores of a title and body read as one text (the body cut to `MAX_BODY_CHARS` of
    prose): a two-word title is decided by its body, a terse body by its title."""
    prose = clean(title or "") + "\n" + clean(body or "")[:MAX_BODY_CHARS]
    return language_scores(prose, candidates)


def decide(scores: dict[str, float], fallback: str) -> str:
    """The leading language if it is clearly ahead, else `fallback`."""
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked:
        return fallback
    best_lang, best = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return best_lang if best > 0 and best >= MIN_LEAD * second else fallback


def detect_item_language(
    title: str, body: str, offered: Iterable[str] = ("en", "fr", "nl", "de"), fallback: str = "en"
) -> str:
    """The offered language an issue or pull request (title and body) is written in, or
    `fallback` (the repository's language) when unsure."""
    return decide(item_scores(title, body, offered), fallback)


def detect_language(
    text: str, offered: Iterable[str] = ("en", "fr", "nl", "de"), fallback: str = "en"
) -> str:
    """The offered language one text is most likely written in, or `fallback` when unsure."""
    return detect_item_language(text, "", offered, fallback)


async def item_language(item: Mapping[str, Any], offered: Iterable[str], fallback: str) -> str:
    """`detect_item_language` of a webhook's issue or pull request, in a thread: the first
    guess of a process loads the language models (seconds), off the event loop."""
    return await asyncio.to_thread(
        detect_item_language,
        str(item.get("title") or ""),
        str(item.get("body") or ""),
        tuple(offered),
        fallback,
    )
