"""The dialogue's own sentences (everything not in the knowledge files), in German and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "not_understood": {
        "de": "Das habe ich leider nicht verstanden. Schreiben Sie mir Ihre Frage in ein paar Worten, zum Beispiel „Personalausweis beantragen“.",
        "en": "Sorry, I could not make sense of that. Please send me your question in a few words, for example “apply for an ID card”.",
    },
    "fallback": {
        "de": "Dazu habe ich leider keine sichere Antwort. Ich habe Ihre Frage (ohne Ihren Namen) für unser Team notiert, damit wir die Auskunft ergänzen.",
        "en": "I am afraid I do not have a reliable answer to that. I have noted your question (without your name) for our team so we can add the information.",
    },
    "fallback_phone": {
        "de": "Persönlich hilft Ihnen das {office}: **{phone}**.",
        "en": "For personal help, call the {office}: **{phone}**.",
    },
    "did_you_mean": {
        "de": "Meinten Sie …?",
        "en": "Did you mean …?",
    },
    "choose_number": {
        "de": "Antworten Sie mit der Nummer oder tippen Sie auf ein Thema.",
        "en": "Reply with the number or tap a topic.",
    },
    "popular": {
        "de": "Häufig gefragt:",
        "en": "Frequently asked:",
    },
    "open_now": {
        "de": "{office} hat jetzt geöffnet, heute bis {time} Uhr.",
        "en": "{office} is open now, today until {time}.",
    },
    "closed_now": {
        "de": "{office} ist gerade geschlossen. Nächste Öffnung: {day}, {time} Uhr.",
        "en": "{office} is closed right now. Next opening: {day} at {time}.",
    },
    "closed_long": {
        "de": "{office} ist in den nächsten zwei Wochen geschlossen.",
        "en": "{office} is closed for the next two weeks.",
    },
    "office_contact": {
        "de": "{office}, {address}, Telefon {phone}",
        "en": "{office}, {address}, phone {phone}",
    },
    "fees": {"de": "Gebühr", "en": "Fee"},
    "documents": {"de": "Mitbringen", "en": "Please bring"},
    "language_set": {
        "de": "Alles klar, ich antworte ab jetzt auf Deutsch.",
        "en": "All right, I will answer in English from now on.",
    },
    "data_deleted": {
        "de": "Erledigt: Ich habe alles gelöscht, was ich über diesen Chat gespeichert hatte.",
        "en": "Done: I have deleted everything I had stored about this chat.",
    },
    "choose_language": {
        "de": "In welcher Sprache soll ich antworten? / Which language should I answer in?",
        "en": "Which language should I answer in? / In welcher Sprache soll ich antworten?",
    },
    "unknown_command": {
        "de": "Diesen Befehl kenne ich nicht. Schreiben Sie Ihre Frage einfach als Text.",
        "en": "I do not know that command. Just type your question as text.",
    },
    "text_only": {
        "de": "Ich kann leider nur Textnachrichten lesen. Schreiben Sie mir Ihre Frage bitte als Text.",
        "en": "Sorry, I can only read text messages. Please type your question.",
    },
    "confirm_delete": {"de": "Ja, alles löschen", "en": "Yes, delete everything"},
    "keep_data": {"de": "Nein, behalten", "en": "No, keep it"},
    "data_kept": {"de": "In Ordnung, ich habe nichts gelöscht.", "en": "All right, I have not deleted anything."},
    "today": {"de": "heute", "en": "today"},
    "tomorrow": {"de": "morgen", "en": "tomorrow"},
}

WEEKDAY_NAMES = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def text(key: str, lang: str, **values: str) -> str:
    variants = TEXTS[key]
    template = variants.get(lang) or variants["en"]
    return template.format(**values) if values else template


def weekday_name(weekday: int, lang: str) -> str:
    return (WEEKDAY_NAMES.get(lang) or WEEKDAY_NAMES["en"])[weekday]
