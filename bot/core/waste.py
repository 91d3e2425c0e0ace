"""Waste fractions: the one table of what the city collects, with the words its calendars use.

The collection calendars name fractions in free text ("Bio + Papier", "Schadstoffmobil"); each
folded word below maps to one fraction id, and the notices show that id's name. Both sides read
this table, so a word can only ever lead to an id that has a name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fraction:
    names: dict[str, str]  # language -> name shown in notices
    words: tuple[str, ...]  # folded words (see bot.core.matching.normalise.fold) in calendar summaries


FRACTIONS: dict[str, Fraction] = {
    "restmuell": Fraction(
        {"de": "Restmüll (graue Tonne)", "en": "residual waste (grey bin)"},
        ("restmuell", "rest", "hausmuell", "residual", "restabfall"),
    ),
    "bio": Fraction({"de": "Bioabfall (braune Tonne)", "en": "organic waste (brown bin)"}, ("bio", "biotonne", "bioabfall", "organic")),
    "papier": Fraction({"de": "Altpapier (blaue Tonne)", "en": "paper (blue bin)"}, ("papier", "altpapier", "paper", "blaue", "papiertonne")),
    "gelbe-tonne": Fraction(
        {"de": "Gelbe Tonne (Verpackungen)", "en": "yellow bin (packaging)"},
        ("gelbe", "gelber", "wertstoff", "wertstoffe", "verpackung", "verpackungen", "packaging"),
    ),
    "wertstoff": Fraction({"de": "Wertstofftonne", "en": "recycling bin"}, ("wertstofftonne", "recycling")),
    "glas": Fraction({"de": "Altglas", "en": "glass"}, ("glas", "altglas", "glass")),
    "sperrmuell": Fraction({"de": "Sperrmüll", "en": "bulky waste"}, ("sperrmuell", "bulky")),
    "gruenschnitt": Fraction(
        {"de": "Grünschnitt", "en": "garden waste"}, ("gruenschnitt", "gruenabfall", "gartenabfall", "laub", "garden")
    ),
    "schadstoff": Fraction(
        {"de": "Schadstoffmobil", "en": "hazardous waste collection"}, ("schadstoff", "schadstoffe", "schadstoffmobil", "hazardous")
    ),
    "weihnachtsbaum": Fraction(
        {"de": "Weihnachtsbäume", "en": "Christmas trees"}, ("weihnachtsbaum", "weihnachtsbaeume", "tannenbaum", "tannenbaeume", "christmas")
    ),
    # A collection whose title names no fraction above: the citizen is sent to the calendar, never shown an id.
    "other": Fraction({"de": "eine weitere Abfuhr (siehe Abfallkalender)", "en": "another collection (see the waste calendar)"}, ()),
}
UNKNOWN_FRACTION = "other"

FRACTION_OF_WORD: dict[str, str] = {word: fraction_id for fraction_id, fraction in FRACTIONS.items() for word in fraction.words}


def fraction_name(fraction_id: str, lang: str) -> str:
    """The fraction's name; an id this table does not know is shown as written, never dropped: a
    queued reminder may name a fraction the table no longer has."""
    fraction = FRACTIONS.get(fraction_id.strip().lower())
    if fraction is None:
        return fraction_id.strip().replace("-", " ").replace("_", " ")[:40]
    return fraction.names.get(lang) or fraction.names["en"]
