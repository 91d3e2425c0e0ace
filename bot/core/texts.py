"""The dialogue's own sentences (everything not in the knowledge files), from message catalogues.

A catalogue is one YAML file per language, ``<language>.yaml``, flat ``key: text`` with
``{placeholders}`` filled in by :func:`text`. The shipped ones (bot/locales) hold German and
English; a city adds a language, or changes a sentence, with files of the same form in its own
folders (``[locales] dirs``), read after the shipped ones so that the city's text wins key by key.

One rule for a missing text: the language's fallback chain (bot/core/language_chain.py), the
first catalogue along it that has the key wins.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.core.language_chain import chain_of, use_fallbacks
from bot.core.models import Problem

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "locales"
REFERENCE_LANGUAGES = ("de", "en")  # the shipped catalogues: every key, and the placeholders a text may use
WEEKDAY_KEYS = tuple("weekday_" + day for day in "monday tuesday wednesday thursday friday saturday sunday".split())
MONTH_KEYS = tuple("month_" + month for month in "january february march april may june july august september october november december".split())
LANGUAGE_PREFIX = "language_"  # language_uk: the name of Ukrainian in the catalogue's language
MAX_CATALOGUE_BYTES = 1_000_000
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Catalogues:
    """The texts of every loaded language (language -> key -> text) and the fallback chains."""

    messages: Mapping[str, Mapping[str, str]]
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def chain(self, lang: str) -> tuple[str, ...]:
        return chain_of(lang, self.fallbacks)

    def lookup(self, key: str, lang: str) -> str | None:
        for code in self.chain(lang):
            found = self.messages.get(code, {}).get(key)
            if found is not None:
                return found
        return None


@dataclass
class Loaded:
    catalogues: Catalogues
    problems: list[Problem]


def catalogue_files(dirs: Iterable[Path]) -> list[Path]:
    """The catalogue files of the folders, in the folders' order (a later folder wins)."""
    return [path for folder in dirs if folder.is_dir() for path in sorted(folder.glob("*.yaml")) if path.is_file()]


def load_catalogues(dirs: Sequence[Path], fallbacks: Mapping[str, Sequence[str]] | None = None) -> Loaded:
    """The shipped catalogues, then those of ``dirs`` (a later file's text wins, key by key),
    checked against the shipped ones: broken YAML is an error with its file and line (the file is
    left out); an unknown key, a placeholder the shipped text does not fill in (that text is left
    out) and the texts a language lacks (said by its fallback chain) are warnings."""
    problems: list[Problem] = []
    messages: dict[str, dict[str, str]] = {}
    for path in catalogue_files([SHIPPED_DIR]):
        messages[path.stem] = {key: value for key, (value, _) in _read_catalogue(path, problems).items()}
    reference = {key: _placeholders(value) for code in REFERENCE_LANGUAGES for key, value in messages.get(code, {}).items()}
    chains = _chains(fallbacks)
    files: dict[str, Path] = {}
    for path in catalogue_files(dirs):
        lang, files[path.stem] = path.stem, path
        for key, (value, line) in _read_catalogue(path, problems).items():
            if key not in reference and not key.startswith(LANGUAGE_PREFIX):  # a city's own language names are welcome
                problems.append(Problem(str(path), line, f"unknown key {key!r} (no shipped catalogue has it)", "warning"))
                continue
            extra = _placeholders(value) - reference.get(key, set())
            if extra:
                shown = ", ".join("{" + name + "}" for name in sorted(extra))
                problems.append(Problem(str(path), line, f"{key}: the bot does not fill in {shown} here; this text is left out", "warning"))
                continue
            messages.setdefault(lang, {})[key] = value
    for lang, path in files.items():
        missing = sorted(key for key in reference if key not in messages.get(lang, {}) and not key.startswith(LANGUAGE_PREFIX))
        if missing:
            instead = " → ".join(Catalogues({}, chains).chain(lang)[1:])
            problems.append(Problem(str(path), 1, f"{len(missing)} texts missing, said in {instead} instead: {', '.join(missing)}", "warning"))
    return Loaded(Catalogues(messages, chains), problems)


def _chains(fallbacks: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    return {lang: tuple(chain) for lang, chain in (fallbacks or {}).items()}


def _read_catalogue(path: Path, problems: list[Problem]) -> dict[str, tuple[str, int]]:
    """key -> (text, line) of one file; problems for what cannot be used."""
    name = str(path)
    try:
        if path.stat().st_size > MAX_CATALOGUE_BYTES:
            problems.append(Problem(name, 1, f"catalogue is larger than {MAX_CATALOGUE_BYTES // 1000} kB"))
            return {}
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, 1, f"not UTF-8 text ({exc.reason})"))
        return {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(name, mark.line + 1 if mark else 1, f"YAML syntax: {exc.problem or exc.context}"))
        return {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(Problem(name, 1, f"cannot read: {exc}"))
        return {}
    if node is None:
        problems.append(Problem(name, 1, "catalogue is empty", "warning"))
        return {}
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(name, node.start_mark.line + 1, "a catalogue is a list of 'key: text' lines"))
        return {}
    read: dict[str, tuple[str, int]] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode) or not isinstance(value_node, yaml.ScalarNode) or value_node.tag != "tag:yaml.org,2002:str":
            problems.append(Problem(name, line, "expected 'key: text' (quote a text that looks like a number, yes/no or a list)"))
            continue
        key = key_node.value
        if key in read:
            problems.append(Problem(name, line, f"duplicate key {key!r} (first at line {read[key][1]})"))
            continue
        try:
            _placeholders(value_node.value)
        except ValueError as exc:
            problems.append(Problem(name, line, f"{key}: braces do not form a {{placeholder}} ({exc}); write {{{{ and }}}} for a brace itself"))
            continue
        read[key] = (value_node.value, line)
    return read


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


# -- the catalogues in use ---------------------------------------------------------------------------
# Read once at import (the shipped ones); the composition root installs the city's with
# :func:`install`. The tables below are views of them for the callers that read a whole language.
TEXTS: dict[str, dict[str, str]] = {}  # key -> language -> text
WEEKDAY_NAMES: dict[str, tuple[str, ...]] = {}
MONTH_NAMES: dict[str, tuple[str, ...]] = {}
LANGUAGE_NAMES_IN: dict[str, dict[str, str]] = {}  # language -> language code -> its name
_active = Catalogues({})


def install(catalogues: Catalogues) -> Catalogues:
    """Use these catalogues from now on; returns the ones in use before."""
    global _active
    before, _active = _active, catalogues
    use_fallbacks(catalogues.fallbacks)  # the knowledge's entries follow the same chains
    by_key: dict[str, dict[str, str]] = {}
    for lang, texts in catalogues.messages.items():
        for key, value in texts.items():
            by_key.setdefault(key, {})[lang] = value
    _replace(TEXTS, by_key)
    for table, keys in ((WEEKDAY_NAMES, WEEKDAY_KEYS), (MONTH_NAMES, MONTH_KEYS)):
        _replace(table, {lang: tuple(texts[k] for k in keys) for lang, texts in catalogues.messages.items() if all(k in texts for k in keys)})
    _replace(LANGUAGE_NAMES_IN, {
        lang: {key.removeprefix(LANGUAGE_PREFIX): value for key, value in texts.items() if key.startswith(LANGUAGE_PREFIX)}
        for lang, texts in catalogues.messages.items()
    })
    return before


def _replace(table: dict[str, Any], new: dict[str, Any]) -> None:
    """New contents in place, never empty in between: other threads read the tables meanwhile."""
    table.update(new)
    for gone in table.keys() - new.keys():
        del table[gone]


def active() -> Catalogues:
    return _active


def text(key: str, lang: str, **values: object) -> str:
    """The text ``key`` in ``lang``, or in the first language of its fallback chain that has it."""
    template = _active.lookup(key, lang)
    if template is None:
        raise KeyError(f"no catalogue has the text {key!r}")
    return template.format(**values) if values else template


def language_name(code: str, lang: str) -> str:
    """The name of the language ``code`` in the language ``lang`` ("en" in German: "Englisch")."""
    return _active.lookup(LANGUAGE_PREFIX + code, lang) or code


def weekday_name(weekday: int, lang: str) -> str:
    return text(WEEKDAY_KEYS[weekday], lang)


def inline(value: str, limit: int = 80) -> str:
    """A value from a person or another system, made safe to place into a sentence of the Markdown
    subset: one line, no bold markers, links or code fences of its own, and not too long."""
    flat = " ".join(value.split()).replace("**", "").replace("](", "] (").replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _load_shipped() -> None:
    loaded = load_catalogues([])
    missing = [lang for lang in REFERENCE_LANGUAGES if lang not in loaded.catalogues.messages]
    if missing:  # a package built without its data files
        raise RuntimeError(f"the shipped message catalogues are missing from {SHIPPED_DIR}: {', '.join(missing)}")
    if any(p.severity == "error" for p in loaded.problems):  # a broken package, not a city's file
        raise RuntimeError("the shipped message catalogues are broken: " + "; ".join(map(str, loaded.problems)))
    install(loaded.catalogues)


_load_shipped()
