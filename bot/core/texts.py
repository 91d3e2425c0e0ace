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
    "fallback_unnoted": {
        "de": "Dazu habe ich leider keine Antwort. Fragen Sie mich gern zu den Leistungen der Stadt, zum Beispiel „Personalausweis beantragen“.",
        "en": "I am afraid I have no answer to that. Feel free to ask me about the city's services, for example “apply for an ID card”.",
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
    "nothing_pending": {
        "de": "Gerade ist bei mir keine Auswahl und keine Rückfrage offen. Schreiben Sie mir Ihre Frage einfach in ein paar Worten.",
        "en": "There is nothing to choose or confirm right now. Just send me your question in a few words.",
    },
    "choice_declined": {
        "de": "Schade. Schreiben Sie mir Ihre Frage bitte noch einmal mit anderen Worten.",
        "en": "Sorry about that. Please send me your question again in other words.",
    },
    "languages_served": {
        "de": "Ich verstehe und beantworte Nachrichten auf {languages}. Bitte schreiben Sie mir in einer dieser Sprachen.",
        "en": "I understand and answer messages in {languages}. Please write to me in one of these languages.",
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
    # --- opening hours (bot/core/office_hours.py) ---
    "hours_title": {"de": "Öffnungszeiten: {office}", "en": "Opening hours: {office}"},
    "hours_closed": {"de": "geschlossen", "en": "closed"},
    "hours_day_open": {"de": "Am {date} hat {office} geöffnet: {spans}.", "en": "On {date}, {office} is open: {spans}."},
    "hours_day_closed": {"de": "Am {date} ist {office} geschlossen.", "en": "On {date}, {office} is closed."},
    "hours_at_open": {
        "de": "Am {date} um {time} hat {office} geöffnet, bis {until}.",
        "en": "On {date} at {time}, {office} is open, until {until}.",
    },
    "hours_at_closed": {
        "de": "Am {date} um {time} ist {office} geschlossen; geöffnet ist an dem Tag {spans}.",
        "en": "On {date} at {time}, {office} is closed; that day it is open {spans}.",
    },
    "hours_next": {"de": "Nächste Öffnung: {moment}.", "en": "Next opening: {moment}."},
    "hours_closures": {"de": "Geschlossen trotz Öffnungszeit: {days}.", "en": "Closed despite the usual hours: {days}."},
    "reason_closed": {"de": "Schließtag", "en": "closing day"},
    "reason_holiday": {"de": "Feiertag", "en": "public holiday"},
    "shop_hours": {
        "de": "Die Öffnungszeiten von Geschäften und Firmen kenne ich leider nicht; ich bin der Chatbot der Stadtverwaltung. Die Zeiten der städtischen Ämter nenne ich Ihnen gern, zum Beispiel „Wann hat das Bürgerbüro offen?“.",
        "en": "Sorry, I do not know the opening hours of shops and businesses; I am the city administration's chatbot. I can tell you the hours of the city's offices, for example “When is the Bürgerbüro open?”.",
    },
    "office_contact": {
        "de": "{office}, {address}, Telefon {phone}",
        "en": "{office}, {address}, phone {phone}",
    },
    "fees": {"de": "Gebühr", "en": "Fee"},
    "documents": {"de": "Mitbringen", "en": "Please bring"},
    "duration": {"de": "Dauer", "en": "Processing time"},
    # --- follow-ups on the last topic (bot/core/facets.py) ---
    "facet_cost": {"de": "Kosten", "en": "Costs"},
    "facet_documents": {"de": "Mitbringen", "en": "What to bring"},
    "facet_duration": {"de": "Dauer", "en": "How long it takes"},
    "facet_where": {"de": "Wohin", "en": "Where to go"},
    "facet_online": {"de": "Online erledigen", "en": "Online"},
    "facet_online_link": {"de": "Das geht online, über den Link unten.", "en": "You can do this online, with the link below."},
    "facet_no_topic": {
        "de": "Worum geht es dabei? Nennen Sie mir bitte das Thema, zum Beispiel „Was kostet ein Reisepass?“.",
        "en": "What is it about? Please name the topic, for example “How much is a passport?”.",
    },
    "facet_missing": {
        "de": "Dazu habe ich bei „{title}“ keine eigene Angabe. Hier noch einmal die ganze Auskunft:",
        "en": "I have no separate information on that for “{title}”. Here is the full answer again:",
    },
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
    "commands_heading": {
        "de": "Diese Befehle verstehe ich (mit „!“ oder „/“ am Anfang):",
        "en": "These are the commands I understand (starting with “!” or “/”):",
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
    "confirm_delete_question": {
        "de": "Soll ich wirklich alles löschen, was ich über diesen Chat gespeichert habe? Das lässt sich nicht rückgängig machen.",
        "en": "Shall I really delete everything I have stored about this chat? This cannot be undone.",
    },
    "keep_data": {"de": "Nein, behalten", "en": "No, keep it"},
    "data_kept": {"de": "In Ordnung, ich habe nichts gelöscht.", "en": "All right, I have not deleted anything."},
    "technical_problem": {
        "de": "Entschuldigung, gerade gibt es bei mir ein technisches Problem. Bitte versuchen Sie es später noch einmal. Fragen zu Leistungen der Stadt beantworte ich weiterhin.",
        "en": "Sorry, I have a technical problem right now. Please try again later. I can still answer questions about the city's services.",
    },
    # --- votes on answers (bot/core/feedback.py) ---
    "feedback_thanks": {"de": "Danke für Ihre Rückmeldung!", "en": "Thank you for your feedback!"},
    "feedback_ask_missing": {
        "de": "Danke für Ihre Rückmeldung. Was hat Ihnen an der Antwort gefehlt? Schreiben Sie es mir gern in einem Satz, ohne persönliche Angaben. Oder stellen Sie einfach Ihre nächste Frage.",
        "en": "Thank you for your feedback. What was missing from the answer? Feel free to tell me in a sentence, without personal details. Or just ask your next question.",
    },
    "feedback_noted": {
        "de": "Danke, Ihr Hinweis geht an das Team, das die Auskünfte pflegt, ohne Bezug zu diesem Chat.",
        "en": "Thank you, your note goes to the team that maintains the answers, without any link to this chat.",
    },
    "feedback_no_note": {"de": "In Ordnung. Fragen Sie mich gern etwas anderes.", "en": "All right. Feel free to ask me something else."},
    "feedback_counted": {"de": "Ihre Bewertung dieser Antwort habe ich schon, danke.", "en": "I already have your rating of this answer, thank you."},
    "feedback_react": {
        "de": "War das hilfreich? Antworten Sie gern mit der Reaktion 👍 oder 👎.",
        "en": "Was this helpful? Feel free to react with 👍 or 👎.",
    },
    "feedback_console": {"de": "War das hilfreich? /gut oder /schlecht", "en": "Was this helpful? /good or /bad"},
    "feedback_question": {"de": "War diese Antwort hilfreich?", "en": "Was this answer helpful?"},
    "feedback_helpful": {"de": "Hilfreich", "en": "Helpful"},
    "feedback_not_helpful": {"de": "Nicht hilfreich", "en": "Not helpful"},
    # --- the web chat (bot/channels/web): its limits, and the widget's own labels ---
    "web_too_fast": {
        "de": "Sie schreiben gerade sehr schnell. Bitte warten Sie einen Moment, dann beantworte ich Ihre nächste Frage gern.",
        "en": "You are writing very fast. Please wait a moment, then I will gladly answer your next question.",
    },
    "web_too_long": {
        "de": "Ihre Nachricht ist leider zu lang ({limit} Zeichen höchstens). Bitte fassen Sie Ihre Frage kürzer.",
        "en": "Sorry, your message is too long (at most {limit} characters). Please ask your question more briefly.",
    },
    "web_title": {"de": "Fragen an die Stadt", "en": "Ask the city"},
    "web_open": {"de": "Chat öffnen", "en": "Open chat"},
    "web_close": {"de": "Chat schließen", "en": "Close chat"},
    "web_input_label": {"de": "Ihre Frage", "en": "Your question"},
    "web_send": {"de": "Senden", "en": "Send"},
    "web_you": {"de": "Sie", "en": "You"},
    "web_bot": {"de": "Bürgerbot", "en": "Bürgerbot"},
    "web_choices": {"de": "Antwortmöglichkeiten", "en": "Options"},
    "web_links": {"de": "Links", "en": "Links"},
    "web_connecting": {"de": "Verbindung wird hergestellt …", "en": "Connecting …"},
    "web_reconnecting": {"de": "Verbindung unterbrochen, neuer Versuch …", "en": "Connection lost, trying again …"},
    "web_new_window": {"de": "(öffnet in neuem Fenster)", "en": "(opens in a new window)"},
    "web_messages": {"de": "Unterhaltung", "en": "Conversation"},
    "today": {"de": "heute", "en": "today"},
    "tomorrow": {"de": "morgen", "en": "tomorrow"},
    # --- reminders and the chat's data (bot/core/flows) ---
    "reminders_unavailable": {
        "de": "Erinnerungen gibt es in diesem Chat leider nicht. Ihre Terminbestätigung enthält alle Angaben; Fragen beantwortet das Bürgertelefon.",
        "en": "Sorry, reminders are not available in this chat. Your booking confirmation has all the details; the citizens' phone line answers questions.",
    },
    "ask_when": {
        "de": "Wann ist Ihr Termin? Schreiben Sie mir Datum und Uhrzeit, gern mit dem Amt, zum Beispiel „3.12. um 10:30 im Bürgerbüro“.",
        "en": "When is your appointment? Send me the date and time, and the office if you like, for example “3 December at 10:30 at the Bürgerbüro”.",
    },
    "ask_time": {"de": "Um wie viel Uhr ist Ihr Termin am {date}?", "en": "At what time is your appointment on {date}?"},
    "ask_date": {"de": "An welchem Tag ist Ihr Termin um {time}?", "en": "On which day is your appointment at {time}?"},
    "in_past": {
        "de": "{moment} liegt schon in der Vergangenheit. Wann ist Ihr Termin? Bitte nennen Sie mir Datum und Uhrzeit.",
        "en": "{moment} is already in the past. When is your appointment? Please tell me the date and time.",
    },
    "too_far": {
        "de": "{moment} ist mehr als zwei Jahre entfernt, so weit im Voraus erinnere ich nicht. Bitte prüfen Sie das Datum.",
        "en": "{moment} is more than two years away; I do not set reminders that far ahead. Please check the date.",
    },
    "confirm_appointment": {"de": "Soll ich Sie an diesen Termin erinnern?", "en": "Shall I remind you of this appointment?"},
    "closed_office_day": {
        "de": "Achtung, {office}: am {date}, geschlossen{reason}. Stimmt der Tag?",
        "en": "Please note: the {office} is closed on {date}{reason}. Is that the right day?",
    },
    "closed_office_hours": {
        "de": "Achtung, {office}: am {date}, um {time} geschlossen, geöffnet ist an dem Tag {spans}. Stimmt die Uhrzeit?",
        "en": "Please note: the {office} is closed on {date} at {time}; that day it is open {spans}. Is that the right time?",
    },
    "closed_weekend": {
        "de": "Achtung: {date}, ist ein Wochenendtag, an dem die Ämter der Stadt in der Regel geschlossen haben. Stimmt der Tag?",
        "en": "Please note: {date} falls on a weekend, when the city's offices are usually closed. Is that the right day?",
    },
    "closed_holiday": {
        "de": "Achtung: {date}, ist ein Feiertag, an dem die Ämter der Stadt geschlossen haben. Stimmt der Tag?",
        "en": "Please note: {date} is a public holiday, when the city's offices are closed. Is that the right day?",
    },
    "reason_weekend": {"de": "Wochenende", "en": "weekend"},
    "yes_save_anyway": {"de": "Ja, trotzdem speichern", "en": "Yes, save it anyway"},
    "no_other_date": {"de": "Nein, anderen Termin nennen", "en": "No, I will give another date"},
    "subject_line": {"de": "Anliegen: {subject}", "en": "About: {subject}"},
    "leads_line": {"de": "Ich erinnere Sie {leads}.", "en": "I will remind you {leads}."},
    "no_leads": {
        "de": "Für eine Erinnerung ist es bei diesem Termin schon zu knapp; ich schicke dazu keine Nachricht mehr.",
        "en": "This appointment is too close for a reminder; I will not send one for it.",
    },
    "yes_save": {"de": "Ja, speichern", "en": "Yes, save it"},
    "no_wrong": {"de": "Nein, stimmt nicht", "en": "No, that is wrong"},
    "saved": {
        "de": "Gespeichert: Ihr Termin am {moment}.",
        "en": "Saved: your appointment on {moment}.",
    },
    "list_hint": {
        "de": "„Meine Erinnerungen“ zeigt alle Erinnerungen; dort können Sie sie auch beenden.",
        "en": "“My reminders” shows all your reminders; you can also end them there.",
    },
    "not_saved": {
        "de": "Gut, ich habe nichts gespeichert. Schreiben Sie mir Datum und Uhrzeit gern noch einmal, oder fragen Sie etwas anderes.",
        "en": "All right, I have not saved anything. Send me the date and time again, or ask me something else.",
    },
    "flow_cancelled": {"de": "In Ordnung, abgebrochen.", "en": "All right, cancelled."},
    "lost_track": {
        "de": "Entschuldigung, die Angaben zu diesem Termin habe ich nicht mehr. Schreiben Sie mir Datum und Uhrzeit bitte noch einmal.",
        "en": "Sorry, I no longer have the details of that appointment. Please send me the date and time again.",
    },
    "reminders_none": {
        "de": "Sie haben zurzeit keine Erinnerungen. Zum Beispiel: „Erinnere mich an meinen Termin am 3.12. um 10:30“, „Status“ mit Ihrer Vorgangsnummer oder „Müllabfuhr-Erinnerung“.",
        "en": "You have no reminders at the moment. For example: “remind me of my appointment on 3 December at 10:30”, “status” with your case number, or “waste collection reminder”.",
    },
    "reminders_list": {
        "de": "Ihre Erinnerungen. Tippen Sie auf eine (oder antworten Sie mit ihrer Nummer), um sie zu beenden:",
        "en": "Your reminders. Tap one (or reply with its number) to end it:",
    },
    "label_appointment": {"de": "Termin {moment}", "en": "Appointment {moment}"},
    "label_case": {"de": "Vorgang {reference}", "en": "Case {reference}"},
    "label_waste": {"de": "Müllabfuhr {district}", "en": "Waste collection {district}"},
    "reminder_ended": {"de": "Beendet: {label}. Dazu bekommen Sie keine Erinnerungen mehr.", "en": "Ended: {label}. You will get no more reminders about it."},
    "reminder_gone": {"de": "Diese Erinnerung war schon beendet.", "en": "That reminder had already ended."},
    "list_outdated": {"de": "Diese Liste ist nicht mehr aktuell.", "en": "That list is out of date."},
    "link_ask": {
        "de": "Öffnen Sie den Link in Ihrer Terminbestätigung, oder schicken Sie mir den Code daraus: „link“ und dahinter der Code.",
        "en": "Open the link in your booking confirmation, or send me the code from it: “link” followed by the code.",
    },
    "link_ok": {"de": "Verbunden: Ich erinnere Sie an diesen Termin.", "en": "Linked: I will remind you of this appointment."},
    "link_malformed": {
        "de": "Mit diesem Code kann ich nichts anfangen; vielleicht ist er unvollständig. Öffnen Sie bitte den Link aus Ihrer Terminbestätigung noch einmal, oder kopieren Sie den Code vollständig.",
        "en": "I cannot read this code; it may be incomplete. Please open the link from your booking confirmation again, or copy the whole code.",
    },
    "link_damaged": {
        "de": "Dieser Link ist nicht (mehr) gültig; vielleicht wurde er beim Kopieren abgeschnitten oder verändert. Öffnen Sie bitte den Link aus Ihrer Terminbestätigung noch einmal. Sie können den Termin auch selbst eintragen, zum Beispiel „Erinnere mich an meinen Termin am 3.12. um 10:30“.",
        "en": "This link is not valid (any more); it may have been cut short or changed when it was copied. Please open the link from your booking confirmation again. You can also add the appointment yourself, for example “remind me of my appointment on 3 December at 10:30”.",
    },
    "link_forged": {
        "de": "Dieser Code ist nicht gültig. Bitte verwenden Sie nur den Link aus der Terminbestätigung der Stadt.",
        "en": "This code is not valid. Please only use the link from the city's booking confirmation.",
    },
    "link_expired": {
        "de": "Dieser Link ist abgelaufen. Sie können den Termin aber selbst eintragen, zum Beispiel „Erinnere mich an meinen Termin am 3.12. um 10:30“.",
        "en": "This link has expired. You can still add the appointment yourself, for example “remind me of my appointment on 3 December at 10:30”.",
    },
    "link_used": {
        "de": "Dieser Link wurde schon verwendet; jeder Link gilt nur einmal. Ob der Termin schon verbunden ist, sehen Sie unter „Meine Erinnerungen“.",
        "en": "This link has already been used; each link works only once. “My reminders” shows whether the appointment is already linked.",
    },
    "link_unknown": {
        "de": "Zu diesem Link finde ich keinen Termin mehr; vielleicht wurde er abgesagt oder verschoben. Bitte schauen Sie in Ihre Nachrichten vom Amt.",
        "en": "I can no longer find an appointment for this link; it may have been cancelled or moved. Please check your messages from the office.",
    },
    "case_ask": {
        "de": "Wie lautet Ihre Vorgangsnummer? Sie steht auf der Bestätigung oder Quittung Ihres Antrags, zum Beispiel RP-2026-004711.",
        "en": "What is your case number? It is on the confirmation or receipt of your application, for example RP-2026-004711.",
    },
    "case_ok": {
        "de": "Gut, ich melde mich hier, sobald sich bei Vorgang {reference} etwas ändert, zum Beispiel wenn Ihr Dokument abholbereit ist.",
        "en": "Good, I will message you here as soon as case {reference} changes, for example when your document is ready for collection.",
    },
    "case_unknown": {
        "de": "Die Vorgangsnummer „{reference}“ finde ich nicht. Bitte prüfen Sie die Schreibweise: Sie steht auf der Bestätigung oder Quittung Ihres Antrags (zum Beispiel RP-2026-004711). Neue Anträge kenne ich manchmal erst nach ein bis zwei Tagen.",
        "en": "I cannot find the case number “{reference}”. Please check how it is written: it is on the confirmation or receipt of your application (for example RP-2026-004711). New applications sometimes reach me only after a day or two.",
    },
    "waste_none": {
        "de": "Für die Müllabfuhr habe ich noch keine Abfuhrkalender. Die Termine stehen im Abfallkalender der Stadt.",
        "en": "I do not have any waste collection calendars yet. The dates are in the city's waste calendar.",
    },
    "waste_ask": {"de": "Für welchen Bezirk soll ich Sie an die Müllabfuhr erinnern?", "en": "For which district shall I remind you of the waste collection?"},
    "waste_ask_name": {
        "de": "Für welchen Bezirk soll ich Sie an die Müllabfuhr erinnern? Schreiben Sie mir den Namen, zum Beispiel „{example}“.",
        "en": "For which district shall I remind you of the waste collection? Send me its name, for example “{example}”.",
    },
    "waste_ok": {
        "de": "Gut, ich erinnere Sie jeweils am Vorabend an die Müllabfuhr in {district}.",
        "en": "Good, I will remind you the evening before each waste collection in {district}.",
    },
    "my_data_intro": {"de": "Das ist alles, was ich über diesen Chat gespeichert habe:", "en": "This is everything I have stored about this chat:"},
    "data_deleted_reminders": {
        "de": "Erledigt: Ich habe alles gelöscht, was ich über diesen Chat gespeichert hatte. Ihre Erinnerungen sind beendet.",
        "en": "Done: I have deleted everything I had stored about this chat. Your reminders have been cancelled.",
    },
    "office_page": {"de": "{office}: Kontakt und Öffnungszeiten", "en": "{office}: contact and opening hours"},
    "and": {"de": "und", "en": "and"},
    "before": {"de": "{span} vorher", "en": "{span} before"},
    # --- notices as they go out (bot/core/notices.py) ---
    "notice_appointment": {"de": "**Erinnerung an Ihren Termin**", "en": "**Reminder of your appointment**"},
    "notice_cant_come": {
        "de": "Sie können nicht kommen? Bitte sagen Sie den Termin ab, damit ihn jemand anderes bekommt.",
        "en": "Cannot make it? Please cancel the appointment so someone else can have it.",
    },
    "notice_cancelled": {"de": "**Ihr Termin wurde abgesagt**", "en": "**Your appointment has been cancelled**"},
    "notice_cancelled_body": {
        "de": "Das Amt hat diesen Termin abgesagt. Bitte buchen Sie einen neuen Termin oder rufen Sie an.",
        "en": "The office has cancelled this appointment. Please book a new one or give them a call.",
    },
    "notice_case": {"de": "**Neues zu Ihrem Antrag**", "en": "**News about your application**"},
    "notice_case_other": {
        "de": "Bei Ihrem Vorgang {reference} gibt es Neuigkeiten. Näheres erfahren Sie beim Amt.",
        "en": "There is news about your case {reference}. The office can tell you more.",
    },
    "notice_followup": {
        "de": "Erinnerung: Ihr {document} (Vorgang {reference}) liegt weiterhin zur Abholung bereit.",
        "en": "Reminder: your {document} (case {reference}) is still waiting to be collected.",
    },
    "notice_pickup": {"de": "Abholung: {place}", "en": "Collect it at: {place}"},
    "notice_waste": {"de": "Müllabfuhr", "en": "Waste collection"},
    "in_district": {"de": "in {district}", "en": "in {district}"},
    "notice_waste_hint": {"de": "Bitte stellen Sie die Tonnen rechtzeitig an die Straße.", "en": "Please put your bins out in time."},
    "notice_waste_unknown": {"de": "Abgeholt wird laut Abfallkalender.", "en": "See the waste calendar for what is collected."},
}

WEEKDAY_NAMES = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

MONTH_NAMES = {
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"),
}


def text(key: str, lang: str, **values: str) -> str:
    variants = TEXTS[key]
    template = variants.get(lang) or variants["en"]
    return template.format(**values) if values else template


LANGUAGE_NAMES_IN = {
    "de": {"de": "Deutsch", "en": "Englisch", "fr": "Französisch", "tr": "Türkisch", "ar": "Arabisch", "uk": "Ukrainisch", "ru": "Russisch"},
    "en": {"de": "German", "en": "English", "fr": "French", "tr": "Turkish", "ar": "Arabic", "uk": "Ukrainian", "ru": "Russian"},
}


def language_name(code: str, lang: str) -> str:
    """The name of the language ``code`` in the language ``lang`` ("en" in German: "Englisch")."""
    return (LANGUAGE_NAMES_IN.get(lang) or LANGUAGE_NAMES_IN["en"]).get(code, code)


def weekday_name(weekday: int, lang: str) -> str:
    return (WEEKDAY_NAMES.get(lang) or WEEKDAY_NAMES["en"])[weekday]


def inline(value: str, limit: int = 80) -> str:
    """A value from a person or another system, made safe to place into a sentence of the Markdown
    subset: one line, no bold markers, links or code fences of its own, and not too long."""
    flat = " ".join(value.split()).replace("**", "").replace("](", "] (").replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
