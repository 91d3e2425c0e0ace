"""The documents and statuses a case (an application the city works on) can have.

One table for the dialogue, the notices and the back-office API's validation: a status or a
document the API accepts has a text here, and the API accepts nothing else. Where a document is
collected differs from city to city and is read from the offices (offices.yaml, pickup_documents).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A document a case can be about; where it is collected is the city's to say (offices.yaml, pickup_documents)."""

    names: dict[str, str]

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names["en"]


# German names all take "Ihr" ("Ihr Reisepass", "Ihr Dokument"), so one sentence fits every document.
DOCUMENTS: dict[str, Document] = {
    "reisepass": Document({"de": "Reisepass", "en": "passport"}),
    "personalausweis": Document({"de": "Personalausweis", "en": "identity card"}),
    "aufenthaltstitel": Document({"de": "Aufenthaltstitel", "en": "residence permit"}),
    "fuehrerschein": Document({"de": "Führerschein", "en": "driving licence"}),
    "other": Document({"de": "Dokument", "en": "document"}),
}


@dataclass(frozen=True)
class CaseStatus:
    sentences: dict[str, str]  # language -> what the citizen is told; {document} and {reference} are filled in
    # The document waits at an office: the notice says where (offices.yaml, pickup_documents), and a
    # follow-up reminder is queued for when it is still not collected.
    awaits_pickup: bool = False

    def sentence(self, lang: str) -> str:
        return self.sentences.get(lang) or self.sentences["en"]


CASE_STATUSES: dict[str, CaseStatus] = {
    "received": CaseStatus({
        "de": "Ihr Antrag (Vorgang {reference}, {document}) ist bei uns eingegangen. Ich melde mich, sobald sich etwas tut.",
        "en": "Your application (case {reference}, {document}) has been received. I will let you know as soon as anything changes.",
    }),
    "in_progress": CaseStatus({
        "de": "Ihr Antrag (Vorgang {reference}, {document}) wird jetzt bearbeitet.",
        "en": "Your application (case {reference}, {document}) is now being processed.",
    }),
    "ready_for_pickup": CaseStatus({
        "de": "Ihr {document} (Vorgang {reference}) liegt zur Abholung bereit.",
        "en": "Your {document} (case {reference}) is ready for collection.",
    }, awaits_pickup=True),
    "collected": CaseStatus({
        "de": "Ihr {document} (Vorgang {reference}) wurde abgeholt. Zu diesem Vorgang schicke ich keine Nachrichten mehr.",
        "en": "Your {document} (case {reference}) has been collected. I will send no more messages about this case.",
    }),
    "rejected": CaseStatus({
        "de": "Ihr Antrag (Vorgang {reference}, {document}) konnte nicht abgeschlossen werden. Sie bekommen dazu Post; bei Fragen hilft Ihnen das Amt gern weiter.",
        "en": "Your application (case {reference}, {document}) could not be completed. You will receive a letter about it; the office will gladly answer your questions.",
    }),
}

PICKUP_STATUSES = frozenset(status for status, case_status in CASE_STATUSES.items() if case_status.awaits_pickup)


def normalise_reference(reference: str) -> str:
    """A case reference as both sides store and look it up: upper case, no spaces ("rp-2026 004711"
    typed in a chat finds "RP-2026004711" posted by the city's system)."""
    return "".join(reference.split()).upper()[:64]
