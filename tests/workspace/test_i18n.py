"""Languages: each user sees the UI in their own language (English, Danish or Polish), and the
shipped catalogs are complete and compiled."""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from crm.models import Role
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, UserFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
SHIPPED = ["da", "pl"]


@pytest.fixture(autouse=True)
def _back_to_english():
    # A request leaves its language active in this thread; later tests must not inherit it.
    yield
    translation.deactivate()


def _agent_client(client, tenant, *, language):
    user = UserFactory(username=f"agent-{language}", language=language)
    AgentProfileFactory(tenant=tenant, user=member(tenant, Role.AGENT, user=user))
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_danish_agent_sees_the_workspace_in_danish(client, tenant):
    # given an agent whose profile says Danish, on an English-speaking browser
    agent = _agent_client(client, tenant, language="da")

    # when they open the workspace
    response = agent.get(reverse("agent-workspace"), HTTP_ACCEPT_LANGUAGE="en")

    # then the page, its presence switcher and the work list are in Danish
    html = response.content.decode()
    assert response["Content-Language"] == "da"
    assert '<html lang="da">' in html
    assert "Arbejdsområde" in html
    assert "Ingen tilbud lige nu." in html
    assert "Mine åbne sager" in html
    assert 'data-testid="presence-now">Offline' in html  # the same word in Danish
    assert ">Ledig</button>" in html
    assert ">Efterbehandling</button>" in html
    assert ">Pause</button>" in html
    assert "<option>Frokost</option>" in html
    assert "Log ud" in html
    assert "No offers right now." not in html
    assert "After-call work" not in html


@pytest.mark.django_db
def test_a_polish_supervisor_sees_the_wallboard_in_polish(client, tenant):
    # given a Polish supervisor and an agent on a break
    supervisor = member(tenant, Role.SUPERVISOR, user=UserFactory(username="ola", language="pl"))
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="ida"))
    agent.presence = "break"
    agent.save(update_fields=["presence"])
    client.force_login(supervisor)

    # when the supervisor opens the wallboard (the browser asks for Danish)
    response = client.get(reverse("supervisor-wallboard"), HTTP_ACCEPT_LANGUAGE="da")

    # then headings, column titles and the agent's state are in Polish
    html = response.content.decode()
    assert response["Content-Language"] == "pl"
    assert "<title>Tablica</title>" in html
    assert "Kolejki" in html
    assert "Najdłuższe oczekiwanie" in html
    assert "Czas w stanie" in html
    assert "Nieprzydzielona praca" in html
    assert 'data-testid="agent-state">Przerwa</span>' in html
    assert "Wyloguj się" in html
    assert "Longest wait" not in html


@pytest.mark.django_db
def test_an_english_user_sees_english_whatever_the_browser_asks(client, tenant):
    # given an agent who chose English, on a Danish browser
    agent = _agent_client(client, tenant, language="en")

    # when
    response = agent.get(reverse("agent-workspace"), HTTP_ACCEPT_LANGUAGE="da,en;q=0.5")

    # then
    html = response.content.decode()
    assert response["Content-Language"] == "en"
    assert "No offers right now." in html
    assert ">After-call work</button>" in html
    assert "Ingen tilbud lige nu." not in html


@pytest.mark.django_db
def test_a_language_not_shipped_falls_back_to_the_browser(client, tenant):
    # given an agent whose stored language has no translation
    agent = _agent_client(client, tenant, language="sv")

    # when the browser asks for Polish
    response = agent.get(reverse("agent-workspace"), HTTP_ACCEPT_LANGUAGE="pl")

    # then the page is Polish rather than broken
    assert response.status_code == 200
    assert "Brak ofert w tej chwili." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "expected", "lang"),
    [
        ("da-DK,da;q=0.9,en;q=0.5", "Log ind", "da"),
        ("pl-PL,pl;q=0.9", "Zaloguj się", "pl"),
        ("en-GB,en;q=0.9", "Log in", "en"),
        ("fr-FR,fr;q=0.9", "Log in", "en"),
    ],
)
def test_the_login_page_follows_the_browsers_language(client, accept_language, expected, lang):
    # when an anonymous visitor opens the log-in page
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=accept_language)

    # then
    html = response.content.decode()
    assert response["Content-Language"] == lang
    assert f"<h1>{expected}</h1>" in html


# --- The catalogs themselves ---


def _read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt/msgid/msgid_plural/msgstr[n] strings and flags.

    Obsolete (#~) entries are left out, as gettext itself does.
    """
    entries: list[dict] = []
    entry: dict = {"flags": set()}
    key = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if "msgid" in entry:
                entries.append(entry)
            entry, key = {"flags": set()}, None
        elif line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)
    return entries


def _catalog(entries: list[dict]) -> dict:
    """What a compiled .mo holds for these entries, keyed as GNUTranslations keys its _catalog."""
    catalog = {}
    for entry in entries:
        msgid = entry["msgid"]
        if not msgid or "fuzzy" in entry["flags"]:
            continue
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            for key, value in entry.items():
                if match := re.fullmatch(r"msgstr\[(\d+)\]", key):
                    catalog[(msgid, int(match[1]))] = value
        else:
            catalog[msgid] = entry["msgstr"]
    return catalog


def _untranslated(entry: dict) -> bool:
    values = [value for key, value in entry.items() if key.startswith("msgstr")]
    return not values or not all(values)


@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    entries = [
        e for e in _read_po(LOCALE_DIR / language / "LC_MESSAGES" / "django.po") if e["msgid"]
    ]

    assert len(entries) > 150
    assert [entry["msgid"] for entry in entries if _untranslated(entry)] == []
    assert [entry["msgid"] for entry in entries if "fuzzy" in entry["flags"]] == []


@pytest.mark.parametrize("language", SHIPPED)
def test_placeholders_survive_translation(language):
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    for entry in _read_po(LOCALE_DIR / language / "LC_MESSAGES" / "django.po"):
        if entry["msgid"] and "msgstr" in entry:
            assert sorted(placeholder.findall(entry["msgstr"])) == sorted(
                placeholder.findall(entry["msgid"])
            ), entry["msgid"]


def test_every_translate_tag_in_the_templates_is_in_the_catalogs():
    # Guards against a new template string shipped without running `make messages`.
    tag = re.compile(r"""{%\s*trans(?:late)?\s+(["'])(.+?)\1""")
    in_templates = {
        match[2]
        for path in TEMPLATES_DIR.rglob("*.html")
        for match in tag.finditer(path.read_text())
    }
    assert len(in_templates) > 80
    for language in SHIPPED:
        po = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
        catalog = {e["msgid"] for e in _read_po(po)}
        assert sorted(in_templates - catalog) == [], f"run `make messages` and translate ({po})"


@pytest.mark.parametrize("language", SHIPPED)
def test_the_committed_mo_matches_its_po(language):
    # given the catalog as written and as compiled
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    expected = _catalog(_read_po(folder / "django.po"))
    with (folder / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    # then the .mo says exactly what the .po says (header aside)
    actual = {key: value for key, value in compiled._catalog.items() if key != ""}
    assert actual == expected, "run `make messages` to recompile"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext is not installed")
@pytest.mark.parametrize("language", SHIPPED)
def test_msgfmt_accepts_the_po(language):
    po = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--output-file=/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"), [("da", "Tastaturgenveje"), ("pl", "Skróty klawiaturowe")]
)
def test_the_keyboard_shortcut_help_comes_in_the_users_language(client, tenant, language, expected):
    # given an agent whose profile names a shipped language
    agent = _agent_client(client, tenant, language=language)

    # when their workspace loads the JavaScript catalogue it links to
    page = agent.get(reverse("agent-workspace")).content.decode()
    catalogue = agent.get(reverse("javascript-catalog"))

    # then the shortcut help's title is translated there
    assert reverse("javascript-catalog") in page
    assert expected in catalogue.content.decode("unicode_escape")
