"""Waste fractions: the ids the city's collection calendars are mapped to, with their names."""

from __future__ import annotations

FRACTIONS: dict[str, dict[str, str]] = {
    "restmuell": {"de": "Restmüll (graue Tonne)", "en": "residual waste (grey bin)"},
    "bio": {"de": "Bioabfall (braune Tonne)", "en": "organic waste (brown bin)"},
    "papier": {"de": "Altpapier (blaue Tonne)", "en": "paper (blue bin)"},
    "gelbe-tonne": {"de": "Gelbe Tonne (Verpackungen)", "en": "yellow bin (packaging)"},
    "wertstoff": {"de": "Wertstofftonne", "en": "recycling bin"},
    "glas": {"de": "Altglas", "en": "glass"},
    "sperrmuell": {"de": "Sperrmüll", "en": "bulky waste"},
    "gruenschnitt": {"de": "Grünschnitt", "en": "garden waste"},
    "schadstoff": {"de": "Schadstoffmobil", "en": "hazardous waste collection"},
    "weihnachtsbaum": {"de": "Weihnachtsbäume", "en": "Christmas trees"},
}


def fraction_name(fraction_id: str, lang: str) -> str:
    """The fraction's name; an id this table does not know is shown as written, never dropped."""
    names = FRACTIONS.get(fraction_id.strip().lower())
    if names is None:
        return fraction_id.strip().replace("-", " ").replace("_", " ")[:40]
    return names.get(lang) or names["en"]
