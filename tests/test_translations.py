"""Every template in every language, with nothing left untranslated (issue 19).

Iterates over whatever exists, so a template, catalog key or page added later is checked
without editing this file:
- catalogs (`templates/web/<lang>.json`): same keys as English, every CLDR plural form of the
  language, same placeholders, no English left where the language has its own word;
- dashboard HTML templates: no literal words (all text comes from the catalogs), every key
  they or `bot/web` ask for exists;
- dashboard pages (every `bot.web` GET route answering HTML) rendered in every language: no
  message missing from the language's catalog, `lang` set, no English sentence in the page;
- message and digest templates (`templates/<lang>/**.j2`): present in every language,
  rendered with sample data, no line left identical to the English one, no hand-written
  plural, no raw author class.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from bot.digest import render as digest_render
from bot.messages import l10n
from bot.messages.templating import LANGUAGES, Renderer, T
from bot.resources import templates_dir
from tests.test_templating import SAMPLES
from tests.web_fixtures import make_digest
from tests.web_fixtures import web_factory as web_factory  # noqa: F401 (fixture)
from tests.web_pages import candidate_paths, is_page

ROOT = templates_dir()
WEB = ROOT / "web"
OTHERS = [lang for lang in LANGUAGES if lang != "en"]
PLURAL = re.compile(r"^(.*)_(zero|one|two|few|many|other)$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Catalog entries that are rightly the same as English in a language (loanwords, units,
# names); anything else identical to English is a forgotten translation.
SAME_AS_ENGLISH: dict[str, set[str]] = {
    "fr": {"orgs_title", "col_org", "hours", "kpi_volume_sub", "class_partner", "nav_organisations",
           "axis_items", "col_total", "col_contributions", "col_source", "source_organisation",
           "kpi_orgs", "pages_label", "attention_title"},
    "nl": {"col_repo", "col_status", "kind_issue", "kind_pull", "class_partner", "class_bot",
           "kpi_volume_sub", "repo_count_one", "issues_opened_one", "pulls_opened_one", "days",
           "period_week", "source_repository"},
    "de": {"col_org", "col_repo", "kpi_volume_sub", "repo_count_one"},
}  # fmt: skip
# Words a dashboard template may hold literally (names, not language).
LITERAL_OK = {"Veilleur", "V", "JSON"}
# Sample values of path parameters, for pages with parameters (tests/web_fixtures.py's world).
PARAMS = {
    "owner": "paris",
    "org": "paris",
    "week": "2025-W09",
    "repo": "site",
    "number": "7",
    "login": "mallory",
}


def _catalog(lang: str) -> dict[str, str]:
    data = json.loads((WEB / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _groups(catalog: dict[str, str]) -> dict[str, set[str]]:
    """Plural messages: base key -> the CLDR categories spelled out."""
    groups: dict[str, set[str]] = {}
    for key in catalog:
        match = PLURAL.match(key)
        if match and f"{match.group(1)}_other" in catalog:
            groups.setdefault(match.group(1), set()).add(match.group(2))
    return groups


def _base(key: str, groups: dict[str, set[str]]) -> str | None:
    """The plural message `key` is a form of, if it is one."""
    match = PLURAL.match(key)
    return match.group(1) if match and match.group(1) in groups else None


# -- catalogs -----------------------------------------------------------------------------------


def test_every_language_has_a_complete_catalog() -> None:
    en = _catalog("en")
    en_groups = _groups(en)
    en_plain = {k for k in en if _base(k, en_groups) is None}
    for lang in LANGUAGES:
        cat = _catalog(lang)
        groups = _groups(cat)
        plain = {k for k in cat if _base(k, groups) is None}
        assert plain == en_plain, f"{lang}: keys differ from English: {sorted(plain ^ en_plain)}"
        assert set(groups) == set(en_groups), f"{lang}: plural messages differ from English"
        wanted = l10n.plural_categories(lang)
        for base, forms in groups.items():
            assert forms == wanted, f"{lang}: {base} has {sorted(forms)}, CLDR: {sorted(wanted)}"
        for key, text in cat.items():
            assert text.strip(), f"{lang}: {key} is empty"
            base = _base(key, groups)
            english = en.get(key) or en.get(f"{base}_other", "")
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english)), (
                f"{lang}: {key} has placeholders {PLACEHOLDER.findall(text)}, English "
                f"{PLACEHOLDER.findall(english)}"
            )
            if lang != "en" and key in en and text == en[key]:
                assert key in SAME_AS_ENGLISH.get(lang, set()), (
                    f"{lang}: {key} is still the English text {text!r}"
                )


def test_plural_forms_follow_cldr() -> None:
    """French says "0 dépôt" and "1 000 000 de dépôts"; English "0 repositories"."""
    from bot.web.i18n import Messages

    assert Messages("fr").plural("repo_count", 0) == "0 dépôt"
    assert Messages("fr").plural("repo_count", 1_000_000) == "1\u202f000\u202f000 de dépôts"
    assert Messages("en").plural("repo_count", 0) == "0 repositories"
    assert Messages("de").plural("pulls_opened", 1) == "1 Pull Request eröffnet"
    assert Messages("nl").plural("issues_opened", 2) == "2 issues geopend"


# -- dashboard templates ------------------------------------------------------------------------

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TAG = re.compile(r"<[^>]*>", re.S)
_ATTR = re.compile(r"\b(?:aria-label|title|alt|placeholder|aria-description)=\"([^\"]*)\"")
_KEY_CALL = re.compile(r"""\bt(?:\.plural)?\(\s*["']([a-z0-9_]+)["']""")


def _html_templates() -> list[Path]:
    return sorted(WEB.glob("*.html"))


@pytest.mark.parametrize("path", _html_templates(), ids=lambda p: p.name)
def test_dashboard_templates_hold_no_literal_words(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    no_jinja = _JINJA.sub(" ", source)
    attributes = " ".join(_ATTR.findall(no_jinja))
    text = re.sub(r"&\w+;|&#\d+;", " ", _TAG.sub(" ", no_jinja)) + " " + attributes
    words = {w for w in re.findall(r"[^\W\d_]{2,}", text)} - LITERAL_OK
    assert not words, f"{path.name}: words not taken from the catalogs: {sorted(words)}"


def test_every_key_asked_for_exists() -> None:
    en = _catalog("en")
    groups = _groups(en)
    sources = [
        *_html_templates(),
        *sorted((Path(__file__).parents[1] / "bot" / "web").glob("*.py")),
    ]
    asked = {key for p in sources for key in _KEY_CALL.findall(p.read_text(encoding="utf-8"))}
    assert asked, "no message key found: has the t(...) convention changed?"
    asked = {k for k in asked if not k.endswith("_")}  # `t("kind_" ~ x)`: the page test's job
    missing = sorted(k for k in asked if k not in en and k not in groups)
    assert not missing, f"keys asked for but in no catalog: {missing}"


def test_every_page_in_every_language(web_factory: Any, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    w = web_factory(dashboard_open=True)
    pages = []
    for path in candidate_paths(w.app, PARAMS):
        response = w.client.get(path)
        if response.status_code == 200 and is_page(response.headers.get("content-type")):
            pages.append(path)
    assert {"/", "/orgs/paris", "/accessibility"} <= set(pages), pages
    english = _catalog("en")
    sentences = {
        text for key, text in english.items()
        if not PLACEHOLDER.search(text) and len(text.split()) >= 3
    }  # fmt: skip
    for path in pages:
        for lang in LANGUAGES:
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="bot.web.i18n"):
                response = w.client.get(path, params={"lang": lang})
            assert response.status_code == 200, (path, lang)
            untranslated = [r.getMessage() for r in caplog.records if "untranslated" in r.message]
            assert not untranslated, (path, lang, untranslated)
            assert f'<html lang="{lang}">' in response.text, (path, lang)
            if lang != "en":
                left = [s for s in sentences if _html_text(s) in response.text]
                assert not left, f"{path} in {lang} shows English: {left}"


def _html_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    )


# -- message and digest templates ---------------------------------------------------------------


def _template_files(lang: str) -> set[str]:
    base = ROOT / lang
    return {str(p.relative_to(base)) for p in base.rglob("*.j2")}


def test_every_template_exists_in_every_language() -> None:
    english = _template_files("en")
    assert english
    for lang in OTHERS:
        missing = sorted(english - _template_files(lang))
        assert not missing, f"{lang}: no translation of {missing} (English would be sent)"


HAND_PLURAL = re.compile(r"""if\s+-?[\w.|()]+\s*(?:==|!=|>|<|>=|<=)\s*-?1\s+else""")
RAW_CLASS = re.compile(r"\{\{\s*[\w.]*author_class\s*\}\}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_templates_use_cldr_plurals_and_words(lang: str) -> None:
    for rel in sorted(_template_files(lang)):
        source = (ROOT / lang / rel).read_text(encoding="utf-8")
        assert not HAND_PLURAL.search(source), f"{lang}/{rel}: hand-written plural; use plural()"
        assert not RAW_CLASS.search(source), f"{lang}/{rel}: raw author class; use author_class()"
        if rel.endswith(".html.j2"):
            assert f'<html lang="{lang}">' in source, f"{lang}/{rel}: wrong or no lang attribute"


def _renders(lang: str) -> dict[str, str]:
    """Every template of `lang` rendered with sample data, by file name."""
    renderer = Renderer()
    digest = make_digest("paris", None)
    out: dict[str, str] = {}
    for rel in sorted(_template_files(lang)):
        if rel == digest_render.REPORT + ".md.j2":
            result = digest_render.markdown(digest, lang, renderer)
        elif rel == digest_render.REPORT_HTML:
            result = digest_render.html(digest, lang, renderer)
        else:
            name = rel.removesuffix(".md.j2")
            assert name in SAMPLES, f"{rel}: no sample data (tests/test_templating.py SAMPLES)"
            result = renderer.render(name, lang, **SAMPLES[name])
        assert result.lang == lang, f"{lang}/{rel} fell back to {result.lang}"
        text = re.sub(r"<style>.*?</style>", "", result.text, flags=re.S)
        out[rel] = (result.title or "") + "\n" + text
    return out


def _prose_words(line: str, data_words: set[str]) -> set[str]:
    words = {w.lower() for w in re.findall(r"[^\W\d_]{3,}", _TAG.sub(" ", line))}
    return words - data_words


@pytest.mark.parametrize("lang", OTHERS)
def test_no_english_left_in_rendered_templates(lang: str) -> None:
    english = _renders("en")
    ours = _renders(lang)
    data_words = {w.lower() for w in re.findall(r"[^\W\d_]{3,}", json.dumps(SAMPLES, default=str))}
    data_words |= {w.lower() for w in re.findall(r"[^\W\d_]{3,}", repr(make_digest("paris", None)))}
    data_words |= {"veilleur", "html", "utf", "doctype", "meta", "charset", "style", "body",
                   "head", "title", "table", "code", "class", "href", "lang"}  # fmt: skip
    for rel, text in ours.items():
        en_lines = {line.strip() for line in english[rel].splitlines()}
        for line in text.splitlines():
            line = line.strip()
            if line in en_lines and len(_prose_words(line, data_words)) >= 2:
                pytest.fail(f"{lang}/{rel}: line left in English: {line!r}")


def test_every_template_name_has_sample_data() -> None:
    assert set(T.ALL) <= set(SAMPLES)
