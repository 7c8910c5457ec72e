"""Language guessing on realistic issue titles and bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.language import detect_language, language_scores

CASES = [
    ("fr", "Bonjour, le formulaire de demande ne s'affiche pas sur mobile"),
    ("fr", "Erreur 500 lors de l'envoi du formulaire"),
    ("fr", "Impossible de télécharger le fichier PDF"),
    ("fr", "Quand j'ouvre la carte, rien ne se passe. Je m'attendais à voir les couches."),
    ("nl", "Hallo, de kaart laadt niet in de gemeente app"),
    ("nl", "Fout bij het inloggen met DigiD"),
    ("nl", "Het formulier geeft een foutmelding na het versturen"),
    ("nl", "Als ik de kaart open, gebeurt er niets. Ik verwachtte dat de lagen zichtbaar zijn."),
    ("de", "Die Seite lädt nicht"),
    ("de", "Fehler beim Hochladen der Datei"),
    ("de", "Der Button funktioniert nicht auf dem iPhone"),
    (
        "de",
        "Wenn ich die Karte öffne, passiert nichts. Ich habe erwartet, dass die Ebenen erscheinen.",
    ),
    ("en", "The page does not load on mobile"),
    ("en", "Crash when the user clicks twice on submit"),
    ("en", "When I open the map, nothing happens. I expected the layers to show."),
]


@pytest.mark.parametrize(("expected", "text"), CASES)
def test_realistic_sentences(expected: str, text: str) -> None:
    # A non-English fallback proves English is detected, not defaulted to.
    fallback = "nl" if expected == "en" else "en"
    assert detect_language(text, fallback=fallback) == expected


@pytest.mark.parametrize(
    "text", ["", "README", "ok", "Update dependencies", "v2.3.1 🚀", "Map is broken"]
)
def test_unsure_returns_fallback(text: str) -> None:
    assert detect_language(text, fallback="fr") == "fr"


def test_only_offered_languages_are_returned() -> None:
    text = "Die Seite lädt nicht"
    assert detect_language(text, offered=("en", "fr")) == "en"
    assert detect_language(text, offered=("en", "fr", "de")) == "de"


def test_code_links_and_mentions_are_ignored() -> None:
    code = "```\nthe error is in the stack trace and the logs\n```"
    body = f"La carte ne s'affiche pas.\n{code}\n@the-team"
    assert detect_language(body) == "fr"
    assert language_scores("`the the the` https://the.example/the", ("en",)) == {"en": 0.0}


def test_title_and_body_together() -> None:
    title = "Probleem met de kaart"
    body = "Wanneer ik inzoom op de kaart verdwijnen de lagen. Dit gebeurt op alle browsers."
    assert detect_language(f"{title}\n\n{body}") == "nl"


@given(st.text(max_size=300))
def test_never_fails_and_answers_an_offered_language_or_fallback(text: str) -> None:
    assert detect_language(text, fallback="xx") in {"en", "fr", "nl", "de", "xx"}
