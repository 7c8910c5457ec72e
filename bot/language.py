"""Guess the language of an issue or comment, to answer contributors in their own language.

No network and no model: a score of common function words (weighted down when several
languages share them) plus a few spelling cues (accents, `ij`, `sch`...). Short titles carry
little signal, so the guess falls back to the repository's language unless one language clearly
wins.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache

from bot.markdown_scan import own_words

_STOPWORDS: dict[str, str] = {
    "en": """the a an and or but is are was were be been being to of in on at for with from by
        as this that these those it its not no does do did doesn don didn isn can cannot could
        would should will when what which who how why where there here i you we they he she my
        your our their me us them have has had if then than so after before into about also
        just only very some any all more most other please hello hi thanks thank works
        working page shows show t while because""",
    "fr": """le la les un une des du de et est sont était ou mais ne pas plus plus que qui quoi
        quand comment pourquoi où ce cette ces cet il elle ils elles on nous vous je tu me te se
        mon ma mes votre vos notre nos leur leurs dans sur pour avec sans par chez entre sous
        au aux y en l d qu j c n s'il bonjour merci lorsque fait faire peut peux pouvez être
        avoir ai avez a été aussi très bien encore toujours rien quand sur lors depuis affiche
        page marche fonctionne""",
    "nl": """de het een en of maar is zijn was waren wordt worden niet geen wel ook dat die dit
        deze er hier daar ik je jij u we wij zij hij ze mijn jouw uw ons onze hun in op aan
        voor met van bij naar uit over door om te tot als dan wanneer hoe waarom wat wie waar
        kan kunnen moet moeten zou zal heb hebt heeft hebben nog al alleen graag hallo dank
        bedankt pagina werkt laadt gemeente kaart""",
    "de": """der die das den dem des ein eine einen einem einer und oder aber ist sind war waren
        wird werden nicht kein keine auch dass dies diese dieser hier da ich du er sie es wir
        ihr mein meine dein ihre unser unsere in im auf an am für mit von vom zu zum zur bei
        nach aus über durch um wenn dann wie warum was wer wo kann können muss müssen soll
        sollte würde habe hast hat haben noch schon nur bitte hallo danke seite lädt funktioniert
        beim
        geht""",
    "es": """el la los las un una unos unas y o pero es son era fue ser no sí que de del en con
        por para sin sobre este esta estos estas ese esa yo tú usted nosotros ellos mi mis su
        sus cuando cómo por qué dónde hola gracias página funciona""",
    "it": """il lo la gli le un uno una e o ma è sono era non che di del della in con per su da
        questo questa quello quella io tu lui lei noi voi loro mio mia suo sua quando come
        perché dove ciao grazie pagina funziona""",
}

# Spelling cues: (regex over the lower-cased text, weight per match, cap per text). Each regex
# is a fixed string, a character class or a bounded ending, so it runs in linear time; cues on
# whole words (`_WORD_CUES`) test each word alone instead of `\b\w+...` over the whole text.
_CUES: dict[str, list[tuple[str, float, int]]] = {
    "fr": [
        (r"[éèêàçùûôîœ]", 0.5, 4),
        (r"\b(?:qu|l|d|j|n|c)'", 0.75, 4),
        (r"eaux?\b|euse?s?\b", 0.4, 3),
    ],
    "de": [(r"[äöüß]", 1.0, 4), (r"sch", 0.4, 3), (r"(?:ung|keit|heit|lich)\b", 0.5, 3)],
    "nl": [(r"ij", 0.6, 4), (r"aa|uu|oe", 0.3, 4)],
    "en": [(r"\bth", 0.4, 4), (r"ing\b", 0.4, 3), (r"\bwh", 0.4, 3), (r"n't\b", 0.75, 2)],
    "es": [(r"[ñ¿¡áíóú]", 0.75, 4), (r"ción\b", 0.75, 2)],
    "it": [(r"[òì]", 0.75, 4), (r"zione\b", 0.75, 2)],
}


def _dutch_diminutive(word: str) -> bool:
    return len(word) > 2 and word.endswith("je") or len(word) > 3 and word.endswith("jes")


def _italian_cluster(word: str) -> bool:
    return "gli" in word[1:] or "zz" in word[1:]


_WORD_CUES: dict[str, list[tuple[Callable[[str], bool], float, int]]] = {
    "nl": [(_dutch_diminutive, 0.4, 2)],
    "it": [(_italian_cluster, 0.4, 2)],
}

_WORD = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"\w+")


def _without_noise(text: str) -> str:
    """Own words only: no code, quotes or comments, no URLs, e-mail addresses or mentions."""
    kept = [
        token
        for token in own_words(text).split()
        if "@" not in token and not token.startswith(("http://", "https://"))
    ]
    return " ".join(kept)


MIN_SCORE = 1.0


@cache
def _weights(langs: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per language, each stopword's weight: 1 / number of candidate languages using the word."""
    sets = {lang: set(_STOPWORDS[lang].split()) for lang in langs}
    share = Counter(w for words in sets.values() for w in words)
    return {lang: {w: 1.0 / share[w] for w in words} for lang, words in sets.items()}


def supported_languages() -> tuple[str, ...]:
    return tuple(_STOPWORDS)


def language_scores(text: str, candidates: Iterable[str] | None = None) -> dict[str, float]:
    """Score per candidate language (higher is likelier); exposed for tests and tuning."""
    langs = [c for c in (candidates or _STOPWORDS) if c in _STOPWORDS]
    clean = _without_noise(text.lower().replace("’", "'"))
    words = _WORD.findall(clean)
    tokens = _TOKEN.findall(clean)
    weights = _weights(tuple(sorted(langs)))
    scores: dict[str, float] = {}
    for lang in langs:
        score = sum(weights[lang].get(w, 0.0) for w in words)
        for pattern, weight, cap in _CUES.get(lang, []):
            score += weight * min(cap, len(re.findall(pattern, clean)))
        for test, weight, cap in _WORD_CUES.get(lang, []):
            score += weight * min(cap, sum(1 for t in tokens if test(t)))
        scores[lang] = round(score, 3)
    return scores


def detect_language(
    text: str, offered: Iterable[str] = ("en", "fr", "nl", "de"), fallback: str = "en"
) -> str:
    """The offered language `text` is most likely written in, or `fallback` when unsure."""
    offered = [lang.lower() for lang in offered]
    scores = language_scores(text or "", offered)
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if not ranked:
        return fallback
    best_lang, best = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if best >= MIN_SCORE and best - second >= max(0.5, 0.2 * best):
        return best_lang
    return fallback
