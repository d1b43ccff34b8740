"""The translation catalogues: complete, consistent with the sources, compiled, and in use.

The interface is Chinese first (``LANGUAGE_CODE = "zh-hans"``) and English second. Every source
string is an English msgid; ``grassroots/locale`` holds one catalogue per language and its compiled
``.mo`` file. ``scripts/update_translations`` refreshes and compiles them.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import polib
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client

from grassroots.accounts.choices import Role

PACKAGE = Path(__file__).resolve().parents[2]
LOCALE = PACKAGE / "locale"
LANGUAGES = ("zh_Hans", "en")
REFRESH = "Run scripts/update_translations, translate what it reports, and commit the .po and .mo files."

# A printf-style conversion as Python's % operator reads it: %(name)s, %s, %5.1f …; "%%" is literal.
PERCENT = re.compile(r"%%|%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?P<type>[a-zA-Z])")
# A str.format field: {}, {0}, {name}, {name.attr}, {name:>10}; "{{" and "}}" are literal.
BRACE = re.compile(r"\{\{|\}\}|\{(?P<field>[A-Za-z_0-9.\[\]]*)(?:![rsa])?(?::[^{}]*)?\}")


def catalogue(language: str) -> polib.POFile:
    path = LOCALE / language / "LC_MESSAGES" / "django.po"
    assert path.exists(), f"{path} is missing. {REFRESH}"
    return polib.pofile(str(path))


def entries(po: polib.POFile) -> list[polib.POEntry]:
    return [entry for entry in po if not entry.obsolete]


def label(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt + ' | ' if entry.msgctxt else ''}{entry.msgid!r}"


def placeholders(text: str, flags: list[str]) -> Counter:
    """The placeholders a string substitutes, as a multiset."""
    found: Counter = Counter()
    if "python-format" in flags:
        for match in PERCENT.finditer(text):
            if match.group(0) != "%%":
                found[f"%({match['name']})" if match["name"] is not None else f"%{match['type']}"] += 1
    for match in BRACE.finditer(text):
        if match.group(0) not in ("{{", "}}"):
            found["{" + match["field"] + "}"] += 1
    return found


def translations(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete(language):
    po = catalogue(language)
    assert not po.metadata_is_fuzzy, f"The header of the {language} catalogue is marked fuzzy."
    assert len(entries(po)) > 100, f"The {language} catalogue is nearly empty. {REFRESH}"
    nplurals = {"zh_Hans": 1, "en": 2}[language]
    assert f"nplurals={nplurals};" in po.metadata.get("Plural-Forms", "").replace(" ", "")
    fuzzy = [label(entry) for entry in entries(po) if "fuzzy" in entry.flags]
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries in {language}: {fuzzy[:20]}. {REFRESH}"
    untranslated = [
        label(entry)
        for entry in entries(po)
        if not all(translations(entry)) or (entry.msgid_plural and len(entry.msgstr_plural) != nplurals)
    ]
    assert not untranslated, f"{len(untranslated)} untranslated in {language}: {untranslated[:20]}. {REFRESH}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match(language):
    wrong = []
    for entry in entries(catalogue(language)):
        singular = placeholders(entry.msgid, entry.flags)
        if entry.msgid_plural:
            plural = placeholders(entry.msgid_plural, entry.flags)
            forms = translations(entry)
            # Every form substitutes only what the code passes; the last (the general) form has
            # exactly the plural's placeholders. Chinese has one form for every number.
            allowed = set(singular) | set(plural)
            extra = any(set(placeholders(form, entry.flags)) - allowed for form in forms)
            if extra or placeholders(forms[-1], entry.flags) != plural:
                wrong.append(label(entry))
        elif placeholders(entry.msgstr, entry.flags) != singular:
            wrong.append(label(entry))
    assert not wrong, f"Placeholders differ from the msgid in {language}: {wrong}"


def test_english_catalogue_repeats_the_msgids():
    differing = [
        label(entry)
        for entry in entries(catalogue("en"))
        if translations(entry) != ([entry.msgid, entry.msgid_plural] if entry.msgid_plural else [entry.msgid])
    ]
    assert not differing, f"English msgstr differs from its msgid: {differing[:20]}. {REFRESH}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_is_up_to_date(language):
    mo_path = LOCALE / language / "LC_MESSAGES" / "django.mo"
    assert mo_path.exists(), f"{mo_path} is missing. {REFRESH}"
    compiled = {
        (entry.msgctxt, entry.msgid): translations(entry)
        for entry in polib.mofile(str(mo_path))
        if entry.msgid
    }
    source = {
        (entry.msgctxt, entry.msgid): translations(entry)
        for entry in entries(catalogue(language))
        if "fuzzy" not in entry.flags
    }
    stale = sorted(
        repr(key[1]) for key in source.keys() | compiled.keys() if source.get(key) != compiled.get(key)
    )
    assert not stale, (
        f"{mo_path.name} of {language} differs from its .po in {len(stale)} entries: {stale[:10]}."
    )


def test_every_source_string_is_in_the_catalogues(tmp_path, monkeypatch, settings):
    """Extract the msgids afresh with makemessages (xgettext) and find each in both catalogues."""
    if shutil.which("xgettext") is None or shutil.which("msguniq") is None:
        pytest.fail(
            "GNU gettext (xgettext, msguniq) is not installed, so the catalogues cannot be checked "
            "against the sources. Install it (Debian: apt-get install gettext); .ci/run does."
        )
    # A copy of the package's translatable files, with an empty locale directory of its own, so that
    # makemessages writes a fresh catalogue there and never touches the real one.
    copy = tmp_path / "grassroots"
    shutil.copytree(
        PACKAGE,
        copy,
        ignore=lambda directory, names: [
            name
            for name in names
            if name in ("locale", "tests", "__pycache__", "static", "data")
            or (Path(directory, name).is_file() and not name.endswith((".py", ".html", ".txt")))
        ],
    )
    (copy / "locale").mkdir()
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command(
        "makemessages", locale=["zh_Hans"], ignore_patterns=["*/tests/*"], no_location=True, verbosity=0
    )
    fresh = polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    extracted = {(entry.msgctxt, entry.msgid, entry.msgid_plural or None) for entry in entries(fresh)}
    assert len(extracted) > 100, "makemessages extracted almost nothing: is the copy of the sources complete?"
    for language in LANGUAGES:
        known = {
            (entry.msgctxt, entry.msgid, entry.msgid_plural or None) for entry in entries(catalogue(language))
        }
        missing = sorted(repr(msgid) for _context, msgid, _plural in extracted - known)
        assert not missing, (
            f"{len(missing)} source strings are not in the {language} catalogue: {missing[:20]}. {REFRESH}"
        )


@pytest.fixture
def street_client(make_user) -> Client:
    """A plain client (no language cookie) logged in as the staff of 上站街道."""
    user = make_user("i18n_street", Role.STREET_STAFF, "140302001", full_name="上站街道工作人员")
    client = Client()
    client.force_login(user)
    return client


def test_pages_are_in_chinese_by_default(street_client):
    response = street_client.get("/areas/140302001/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert response.headers["Content-Language"] == "zh-hans"
    for chinese in ("下级区域", "网格员", "街道/乡镇", "退出登录"):
        assert chinese in page, chinese
    for english in ("Sub-areas", "Grid workers", "Log out"):
        assert english not in page, english


def test_browser_language_does_not_switch_to_english(street_client):
    """An office browser set to English still gets the Chinese interface unless the user chooses."""
    page = street_client.get("/areas/140302001/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "下级区域" in page


def test_language_cookie_switches_to_english(street_client):
    street_client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    response = street_client.get("/areas/140302001/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="en">' in page
    for english in ("Sub-areas", "Grid workers", "Street / township", "Log out"):
        assert english in page, english
    for chinese in ("下级区域", "退出登录"):
        assert chinese not in page, chinese
