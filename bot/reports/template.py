"""`buergerbot faq new`: a new entry file from a commented template, in every configured language.

The template does not validate until every ``<<…>>`` placeholder is replaced: `faq validate` names
each one with file and line, and a running bot keeps its last good knowledge meanwhile, so a
half-written entry never reaches citizens. Filled in, it passes the schema as it stands.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.core.schema import SLUG

_SLUG = re.compile(SLUG)

_HEADER = """\
# Neuer Eintrag "{id}", angelegt mit `buergerbot faq new` am {today}.
# Ersetzen Sie jeden Platzhalter <<…>> samt den spitzen Klammern und prüfen Sie dann mit
# `buergerbot faq validate`. Solange ein Platzhalter übrig ist, nennt validate ihn mit Datei und
# Zeile, und der laufende Bot übernimmt keine Änderung an den Wissensdateien.
#
# New entry "{id}", created with `buergerbot faq new` on {today}.
# Replace every <<…>> placeholder, angle brackets included, then check with
# `buergerbot faq validate`. While a placeholder is left, validate names it with file and line,
# and the running bot takes no change to the knowledge files live.
#
# Alle Felder / every field: docs/knowledge-files.md · Anleitung / guide: docs/staff-guide.md
entries:
  - id: {id}
    kind: {kind}
    owner: "<<zuständiges Amt und Team / office and team responsible>>"
    last_reviewed: {today}      # letzte Prüfung / date of the last check
    # office: buergerbuero      # optional: id aus / from faq/offices.yaml (Adresse, Öffnungszeiten / address, opening hours)
    # tags: [welcome]           # optional: welcome = Thema für internationale Fachkräfte / topic for international skilled workers
{leika}\
    # links:                    # optional: das Online-Formular / the online form: kind: form
    #   - kind: form            # form | info | appointment | external
    #     url: https://www.stadt.example/online/{id}
    #     label: {{de: "Online beantragen", en: "Apply online"}}
"""
_LEIKA = """\
    # leika: "99000000000000"   # optional: LeiKa-Schlüssel, 14 Ziffern in Anführungszeichen / LeiKa key, 14 digits, quoted
"""

_GERMAN = """\
    {lang}:
      title: "<<Titel, z. B. Hundesteuer anmelden>>"
      questions:                # mindestens 3, besser 8: so, wie Menschen wirklich fragen
        - "<<Frage als ganzer Satz, z. B. Wie melde ich meinen Hund an?>>"
        - "<<Frage als Stichwort, z. B. hund anmelden>>"
        - "<<Frage mit Alltagswörtern, z. B. Steuer für meinen Hund>>"
      answer: |
        <<Antwort: was zu tun ist, was es kostet, wo. Möglich: **fett**, Listen mit - am Zeilenanfang, Links wie in docs/knowledge-files.md>>
      # fees: "25,00 €"         # optional: Gebühren
      # documents: [Personalausweis]   # optional: was mitzubringen ist
"""
_ENGLISH = """\
    {lang}:
      title: "<<Title{note}, e.g. Register a dog>>"
      questions:                # at least 3, better 8: the way people really ask
        - "<<A whole question{note}, e.g. How do I register my dog?>>"
        - "<<Keywords{note}, e.g. dog registration>>"
        - "<<The question in everyday words{note}, e.g. tax for my dog>>"
      answer: |
        <<Answer{note}: what to do, what it costs, where. Allowed: **bold**, lists with - at the line start, links as in docs/knowledge-files.md>>
      # fees: "EUR 25.00"       # optional
      # documents: [identity card]   # optional: what to bring
"""


def slug_problem(entry_id: str) -> str | None:
    """Why ``entry_id`` cannot be an id, or None when it can."""
    if _SLUG.match(entry_id):
        return None
    return (f"{entry_id!r} is not a valid id: use lower-case letters a-z, digits and a single '-' between words "
            "(no umlauts, spaces or capitals), e.g. 'hundesteuer-anmelden'")


def render(entry_id: str, kind: str, languages: Sequence[str], today: dt.date, questions: Mapping[str, Sequence[str]] | None = None) -> str:
    """The template; ``questions`` (by language) take the place of the example question placeholders,
    e.g. the questions citizens asked that the bot could not answer."""
    out = _HEADER.format(id=entry_id, kind=kind, today=today.isoformat(), leika=_LEIKA if kind == "service" else "")
    for lang in languages:
        block = _GERMAN.format(lang=lang) if lang == "de" else _ENGLISH.format(lang=lang, note="" if lang == "en" else f" in '{lang}'")
        asked = [" ".join(q.split()) for q in (questions or {}).get(lang, ()) if q.strip()]
        out += _with_questions(block, asked) if asked else block
    return out


def _with_questions(block: str, asked: Sequence[str]) -> str:
    lines = block.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("questions:"))
    end = next(i for i, line in enumerate(lines) if line.lstrip().startswith("answer:"))
    # A JSON string is a YAML double-quoted scalar: quotes, backslashes and colons in a citizen's question stay text.
    items = [f"        - {_yaml_string(q)}\n" for q in asked]
    return "".join([*lines[: start + 1], *items, *lines[end:]])


_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")  # what JSON leaves as it is but YAML reads as a line break or refuses


def _yaml_string(text: str) -> str:
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def write_entry_file(directory: Path, entry_id: str, kind: str, languages: Sequence[str], today: dt.date) -> Path:
    """Write ``directory/<id>.yaml``; FileExistsError when it is already there (never overwritten)."""
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(20, "not a folder", str(directory))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{entry_id}.yaml"
    with path.open("x", encoding="utf-8") as f:
        f.write(render(entry_id, kind, languages, today))
    return path
