"""A language added with files alone: a message catalogue and knowledge entries in Ukrainian,
in a city folder of tmp_path, and a conversation through the real Dialogue in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import texts
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.knowledge import load_knowledge
from bot.core.live import InvalidKnowledge, LiveKnowledge
from bot.core.ports import MemoryUnansweredLog, MemoryUsageLog, MemoryUserStates
from bot.core.texts import install, load_catalogues
from tests.conftest import MONDAY_10, CollectingChannel

UKRAINIAN_CATALOGUE = """\
not_understood: "Вибачте, я цього не зрозумів. Напишіть своє запитання кількома словами."
fallback: "На жаль, на це я не маю надійної відповіді. Я записав ваше запитання (без вашого імені) для нашої команди."
popular: "Часто питають:"
languages_served: "Я розумію повідомлення мовами: {languages} і відповідаю ними. Напишіть мені, будь ласка, однією з них."
and: "і"
language_de: "німецька"
language_en: "англійська"
language_uk: "українська"
"""

# The Ukrainian example questions are in Latin transliteration, as many type on a German keyboard:
# the matcher's normaliser (bot.core.matching.normalise.fold) keeps only a-z and 0-9, so questions in
# Cyrillic letters fold to nothing and `faq validate` refuses them ("is answered by 'nothing'").
ENTRIES = """\
entries:
  - id: aufenthaltstitel
    kind: faq
    de:
      title: Aufenthaltstitel verlängern
      questions: [Aufenthaltstitel verlängern, Aufenthaltserlaubnis läuft ab, Visum verlängern]
      answer: Den Aufenthaltstitel verlängert die Ausländerbehörde.
    en:
      title: Extend a residence permit
      questions: [extend my residence permit, residence permit expires, extend my visa]
      answer: The immigration office extends residence permits.
    uk:
      title: Продовжити посвідку на проживання
      questions: [prodovzhyty Aufenthaltstitel, posvidka na prozhyvannia zakinchuietsia, yak prodovzhyty posvidku]
      answer: Посвідку на проживання продовжує відомство у справах іноземців.
  - id: wohnsitz-anmelden
    kind: faq
    de:
      title: Wohnsitz anmelden
      questions: [Wohnsitz anmelden, nach Umzug anmelden, Anmeldung neue Wohnung]
      answer: Die Anmeldung machen Sie im Bürgerbüro.
    en:
      title: Register your address
      questions: [register my address, register after moving, registration of a new flat]
      answer: You register your address at the Bürgerbüro.
    uk:
      title: Зареєструвати місце проживання
      questions: [zareiestruvaty mistse prozhyvannia, reiestratsiia pislia pereizdu, Anmeldung kvartyry]
      answer: Зареєструвати місце проживання можна в Бюро громадян.
  - id: begruessung
    kind: intent
    action: greeting
    de:
      title: Begrüßung
      questions: [Hallo, Guten Tag, Moin]
      answer: Hallo! Ich beantworte Ihre Fragen an die Stadt.
    en:
      title: Greeting
      questions: [Hello, Good morning, Hi there]
      answer: Hello! I answer your questions to the city.
    uk:
      title: Привітання
      questions: [pryvit, dobryi den, vitaiu]
      answer: Вітаю! Я відповідаю на ваші запитання до міста.
"""


@pytest.fixture
def ukrainian_city(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The city's folder: knowledge with Ukrainian texts, and locales/uk.yaml; the catalogues
    in use are given back afterwards."""
    knowledge, locales = tmp_path / "faq", tmp_path / "locales"
    knowledge.mkdir()
    locales.mkdir()
    (knowledge / "entries.yaml").write_text(ENTRIES, encoding="utf-8")
    (locales / "uk.yaml").write_text(UKRAINIAN_CATALOGUE, encoding="utf-8")
    before = texts.active()
    yield knowledge, locales
    install(before)


def ukrainian_chat(knowledge: Path, locales: Path, popular: tuple[str, ...] = ("aufenthaltstitel", "wohnsitz-anmelden")) -> CollectingChannel:
    loaded = load_catalogues([locales])
    assert not any(p.severity == "error" for p in loaded.problems)
    install(loaded.catalogues)
    live = LiveKnowledge([knowledge], ("de", "en", "uk"))
    dialogue = Dialogue(
        knowledge=lambda: live.snapshot,
        states=MemoryUserStates(),
        unanswered=MemoryUnansweredLog(),
        settings=DialogueSettings(popular=popular),
        clock=lambda: MONDAY_10,
        usage=MemoryUsageLog(),
    )
    return CollectingChannel(dialogue)


def test_a_conversation_in_a_language_added_with_files_alone(ukrainian_city: tuple[Path, Path]) -> None:
    chat = ukrainian_chat(*ukrainian_city)

    # The chat app says the person reads Ukrainian: the greeting and the menu are in Ukrainian.
    [welcome] = chat.command("start", language_hint="uk")
    assert welcome.language == "uk"
    assert welcome.text.startswith("Вітаю! Я відповідаю на ваші запитання до міста.")
    assert "Часто питають:" in welcome.text
    assert [c.label for c in welcome.choices] == ["Продовжити посвідку на проживання", "Зареєструвати місце проживання"]

    # A topic from the menu is answered from the entry's Ukrainian text.
    [answer] = chat.say(choice=welcome.choices[0].payload)
    assert answer.entry_id == "aufenthaltstitel" and answer.language == "uk"
    assert "Посвідку на проживання продовжує відомство у справах іноземців." in answer.text

    # A question typed in the chat's language is answered in it.
    [typed] = chat.say("posvidka na prozhyvannia zakinchuietsia")
    assert typed.entry_id == "aufenthaltstitel" and typed.language == "uk"
    assert typed.text == "**Продовжити посвідку на проживання**\n\nПосвідку на проживання продовжує відомство у справах іноземців."

    # Nothing the bot knows: the fallback is the new catalogue's.
    [fallback] = chat.say("qwertz blubb xyzzy")
    assert fallback.language == "uk"
    assert fallback.text.startswith("На жаль, на це я не маю надійної відповіді.")

    # A text the Ukrainian catalogue lacks comes from the next language of the chain: English.
    [choose] = chat.command("language")
    assert choose.text == texts.TEXTS["choose_language"]["en"]
    assert "Українська" in [c.label for c in choose.choices]

    # A message in a language the bot does not serve: every served language says so in its own
    # words, Ukrainian with the language names of its own catalogue.
    [served] = chat.say("مرحبا، هل تتحدث العربية؟")
    assert "Я розумію повідомлення мовами: німецька, англійська і українська" in served.text
    assert "I understand and answer messages in German, English and Ukrainian." in served.text


def test_a_message_in_ukrainian_letters_is_answered_in_ukrainian(ukrainian_city: tuple[Path, Path]) -> None:
    chat = ukrainian_chat(*ukrainian_city)
    [reply] = chat.say("Привіт, як справи? Що ви вмієте?")
    assert reply.language == "uk"
    # Whether the words are read (a Unicode-aware matcher) or not (letters a-z only), the reply is
    # one of the new catalogue's or the knowledge's Ukrainian texts.
    assert reply.text.startswith(("Вибачте, я цього не зрозумів.", "На жаль, на це я не маю надійної відповіді.", "Вітаю!"))


HUNDESTEUER_DE_EN = """\
  - id: hundesteuer
    kind: faq
    de:
      title: Hundesteuer
      questions: [Hund anmelden Steuer, Hundesteuer zahlen, Steuer für meinen Hund]
      answer: Ihren Hund melden Sie beim Steueramt an.
    en:
      title: Dog tax
      questions: [dog tax, register my dog, tax for a dog]
      answer: You register your dog with the tax office.
"""


def test_an_entry_without_the_new_language_is_answered_by_the_chain_with_a_line_saying_so(ukrainian_city: tuple[Path, Path]) -> None:
    knowledge, locales = ukrainian_city
    (knowledge / "dog.yaml").write_text("entries:\n" + HUNDESTEUER_DE_EN, encoding="utf-8")
    with (locales / "uk.yaml").open("a", encoding="utf-8") as catalogue:
        catalogue.write('answer_in_other_language: "Цієї відповіді українською ще немає; ось вона мовою: {language}."\n')
    loaded = load_knowledge([knowledge], ("de", "en", "uk"))
    assert [str(p) for p in loaded.problems] == [f"{knowledge / 'dog.yaml'}:2: warning: entry 'hundesteuer': no 'uk' text yet; answered in another language by the fallback chain"]
    chat = ukrainian_chat(knowledge, locales, popular=("aufenthaltstitel", "hundesteuer"))
    [menu] = chat.command("start", language_hint="uk")
    assert [c.label for c in menu.choices] == ["Продовжити посвідку на проживання", "Dog tax"]
    [reply] = chat.say(choice=menu.choices[1].payload)
    assert reply.entry_id == "hundesteuer" and reply.language == "uk"
    assert reply.text.startswith("Цієї відповіді українською ще немає; ось вона мовою: англійська.\n\n**Dog tax**\n\nYou register your dog")


def test_an_entry_without_german_or_english_is_refused(tmp_path: Path) -> None:
    # German and English end every fallback chain, so every entry has them.
    knowledge = tmp_path / "faq"
    knowledge.mkdir()
    (knowledge / "entries.yaml").write_text(ENTRIES.replace("    en:\n      title: Greeting", "    xx:\n      title: Greeting"), encoding="utf-8")
    with pytest.raises(InvalidKnowledge, match="entry 'begruessung': missing language 'en'"):
        LiveKnowledge([knowledge], ("de", "en", "uk"))
