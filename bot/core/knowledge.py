"""Loading and validating the knowledge files into a :class:`KnowledgeBase`.

Every problem carries the file and line it comes from, because the people who fix them are city
staff with a text editor, not developers with a debugger.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot.core.models import WEEKDAYS, Entry, Link, LocalText, Office, Problem, TimeSpan
from bot.core.schema import LANGUAGE_KEY, EntryModel, LocalModel, OfficeModel, ScopeModel, parse_span
from bot.core.scope import Scope

# libyaml when present: the default knowledge parses ten times faster than in pure Python.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
# Link targets as a lenient reader takes them: a Markdown target with spaces around it, and the
# URL attributes of raw HTML. Staff never need script links; a pasted one is reported.
_MARKDOWN_TARGET = re.compile(r"\]\(\s*([^)]*?)\s*\)")
_HTML_URL = re.compile(r"""<[a-z][^>]*?\b(?:href|src|action|formaction|xlink:href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*))""", re.IGNORECASE)
_SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")
# Browsers ignore whitespace and control characters inside a scheme ("java\tscript:").
_IGNORED_IN_SCHEME = re.compile(r"[\s\x00-\x1f\x7f]+")
# Knowledge files are a few levels deep (entries → entry → language → questions); far deeper
# nesting is a broken or hostile file, and would exhaust the recursion of the constructors.
MAX_DEPTH = 32
# What `buergerbot faq new` writes where staff still have to write: "<<title in German>>". Left in
# a file it is an error, so a half-written entry never goes live.
PLACEHOLDER = re.compile(r"<<[^<>\n]+>>")


@dataclass(frozen=True)
class KnowledgeLimits:
    """Bounds on what a reload reads, so that one oversized file cannot stall the bot or eat its
    memory. The default knowledge is a few hundred entries in files below 200 KiB."""

    max_file_bytes: int = 2 * 1024 * 1024
    max_entries: int = 5000


@dataclass(frozen=True)
class QuestionRef:
    entry_id: str
    language: str
    text: str
    path: str
    line: int


@dataclass
class KnowledgeBase:
    entries: dict[str, Entry]
    offices: dict[str, Office]
    synonyms: dict[str, str]  # variant → canonical, all languages
    languages: tuple[str, ...]
    questions: list[QuestionRef] = field(default_factory=list)
    # Questions no entry should answer (``off_topic:`` files): the matcher learns to score them low.
    off_topic: list[QuestionRef] = field(default_factory=list)
    # Other places and topics that are not the city's business (``scope:`` files).
    scope: Scope = field(default_factory=Scope)

    def intent(self, action: str) -> Entry | None:
        """The intent entry that stands for ``action`` (the greeting, the help text, the question before deleting)."""
        return next((entry for entry in self.entries.values() if entry.action == action), None)

    def pickup_office(self, document_id: str) -> Office | None:
        """The office where this document is collected (its ``pickup_documents``); None: the letter says where."""
        return next((office for office in self.offices.values() if document_id in office.pickup_documents), None)

    def examples(self) -> Iterator[QuestionRef]:
        """What the matcher learns from: every example question, and each title as one more."""
        for entry in self.entries.values():
            for lang, text in entry.texts.items():
                path, line = entry.source.rsplit(":", 1)
                yield QuestionRef(entry.id, lang, text.title, path, int(line))
        yield from self.questions


@dataclass
class LoadResult:
    knowledge: KnowledgeBase
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def knowledge_files(dirs: Iterable[Path]) -> list[Path]:
    return sorted(p for d in dirs if d.is_dir() for p in d.rglob("*.yaml") if p.is_file())


def fingerprint(dirs: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """Changes whenever a knowledge file is added, removed or written."""
    out = []
    for p in knowledge_files(dirs):
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


BASE_LANGUAGES = ("de", "en")  # the shipped message catalogues' languages: where every fallback chain ends


def required_languages(languages: Sequence[str]) -> tuple[str, ...]:
    """The languages every entry must be written in: German and English where configured (the
    end of every fallback chain), else the first configured one. An entry may lack the others;
    it is then answered in the first language of the asked one's fallback chain that it has."""
    base = tuple(lang for lang in languages if lang in BASE_LANGUAGES)
    return base or tuple(languages[:1])


def load_knowledge(dirs: Sequence[Path], languages: Sequence[str] = ("de", "en"), limits: KnowledgeLimits | None = None) -> LoadResult:
    loader = _Loader(tuple(languages), limits or KnowledgeLimits())
    for path in knowledge_files(dirs):
        loader.load_file(path)
    if not any(d.is_dir() for d in dirs):
        loader.problem(str(dirs[0]) if dirs else ".", 0, "knowledge folder not found")
    return loader.finish()


class _Loader:
    def __init__(self, languages: tuple[str, ...], limits: KnowledgeLimits) -> None:
        self.languages = languages
        self.required = required_languages(languages)
        self.limits = limits
        self.entries_seen = 0
        self.modified: dict[str, int] = {}  # file → mtime (ns): of two entries with one id, the newer file is blamed
        self.problems: list[Problem] = []
        self.entries: dict[str, Entry] = {}
        self.offices: dict[str, Office] = {}
        self.pickup_at: dict[str, str] = {}  # document id -> the office where it is collected
        self.office_refs: list[tuple[str, str, int]] = []
        self.synonyms: dict[str, str] = {}
        self.questions: list[QuestionRef] = []
        self.off_topic: list[QuestionRef] = []
        self.scope = Scope()

    def problem(self, path: str, line: int, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(path, line, message, severity))

    def load_file(self, path: Path) -> None:
        name = str(path)
        try:
            raw = self._read(path)
            if raw is None:
                return
            text = raw.decode("utf-8")
            del raw
            loader = _YamlLoader(text)
            try:
                node = loader.get_single_node()
                refused = _refused_shape(node, text) if node is not None else None
                if refused is not None:
                    self.problem(name, *refused)
                    return
                data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
        except UnicodeDecodeError as exc:
            self.problem(name, 1, f"not UTF-8 text ({exc.reason})")
            return
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            self.problem(name, line, f"YAML syntax: {exc.problem or exc.context}")
            return
        except (OSError, yaml.YAMLError) as exc:
            self.problem(name, 1, f"cannot read: {exc}")
            return
        if node is None:
            self.problem(name, 1, "file is empty", "warning")
            return
        self._check_nodes(name, node)
        if not isinstance(data, dict) or len(data) != 1:
            self.problem(name, 1, "expected exactly one top-level key: entries, offices, synonyms, off_topic or scope")
            return
        key, body = next(iter(data.items()))
        body_node = _child(node, key)
        if key == "entries":
            self._entries(name, body, body_node)
        elif key == "offices":
            self._offices(name, body, body_node)
        elif key == "synonyms":
            self._synonyms(name, body, body_node)
        elif key == "off_topic":
            self._off_topic(name, body, body_node)
        elif key == "scope":
            model = self._validate(ScopeModel, body, name, body_node)
            if model is not None:
                self.scope = self.scope.merged(Scope.of(
                    model.own_places, model.other_places, model.other_places_after_preposition, model.topics, model.city_matters,
                ))
        else:
            self.problem(name, 1, f"unknown top-level key {key!r}: use entries, offices, synonyms, off_topic or scope")

    def _read(self, path: Path) -> bytes | None:
        """The file's bytes; None (and a problem) when it is larger than the limit, which is then
        never read into memory."""
        name, limit = str(path), self.limits.max_file_bytes
        with path.open("rb") as f:
            stat = path.stat()
            self.modified[name] = stat.st_mtime_ns
            # read one byte more than allowed: a file that grew after stat() is caught too
            raw = f.read(limit + 1) if stat.st_size <= limit else b""
        if stat.st_size > limit or len(raw) > limit:
            self.problem(name, 1, f"file is larger than {_size(limit)} ({_size(max(stat.st_size, len(raw)))}); split it into smaller files")
            return None
        return raw

    def _check_nodes(self, name: str, root: yaml.Node) -> None:
        """Duplicate keys (YAML would silently keep the last) and placeholders left unfilled."""
        todo = [root]  # iterative: the depth is bounded, but not by Python's recursion limit
        while todo:
            node = todo.pop()
            if isinstance(node, yaml.ScalarNode):
                for m in PLACEHOLDER.finditer(node.value):
                    self.problem(name, _line_at(node, m.start()), f"placeholder {m.group(0)} is still to be filled in")
            elif isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for k, _ in node.value:
                    if isinstance(k, yaml.ScalarNode):
                        if k.value in seen:
                            self.problem(name, k.start_mark.line + 1, f"duplicate key {k.value!r}")
                        seen.add(k.value)
                todo.extend(v for _, v in reversed(node.value))  # reversed: popped in file order
            elif isinstance(node, yaml.SequenceNode):
                todo.extend(reversed(node.value))

    def _entries(self, name: str, body: Any, node: yaml.Node | None) -> None:
        if not isinstance(body, list):
            self.problem(name, _line(node), "'entries' must be a list of entries ('- id: …')")
            return
        room = max(0, self.limits.max_entries - self.entries_seen)
        reported = self.entries_seen > self.limits.max_entries  # once, where the limit is crossed
        self.entries_seen += len(body)
        if len(body) > room and not reported:
            self.problem(
                name, _line(_child(node, room)),
                f"too many entries: the knowledge may hold {self.limits.max_entries} (knowledge_limits.max_entries), this is number {self.limits.max_entries + 1}",
            )
        body = body[:room]
        for i, raw in enumerate(body):
            item_node = _child(node, i)
            line = _line(item_node)
            if not isinstance(raw, dict):
                self.problem(name, line, "an entry must be a mapping with id, kind and languages")
                continue
            entry = self._entry(name, raw, item_node)
            if entry is None:
                continue
            known = self.entries.get(entry.id)
            if known is None:
                self.entries[entry.id] = entry
                continue
            # Blame the entry that came last, by time: the new file is where staff just added it,
            # whichever of the two file names sorts first.
            known_path, known_line = known.source.rsplit(":", 1)
            if self.modified.get(known_path, 0) > self.modified.get(name, 0):
                self.problem(known_path, int(known_line), f"duplicate id {entry.id!r} (first defined at {entry.source})")
                self.entries[entry.id] = entry
            else:
                self.problem(name, line, f"duplicate id {entry.id!r} (first defined at {known.source})")

    def _entry(self, name: str, raw: dict[str, Any], node: yaml.Node | None) -> Entry | None:
        line = _line(node)
        lang_keys = [k for k in raw if _is_language_key(k)]
        common = {k: v for k, v in raw.items() if k not in lang_keys}
        model = self._validate(EntryModel, common, name, node)
        texts: dict[str, LocalText] = {}
        for lang in lang_keys:
            local_node = _child(node, lang)
            local = self._validate(LocalModel, raw[lang], name, local_node, (lang,))
            if local is None:
                continue
            texts[lang] = LocalText(
                title=local.title.strip(),
                questions=tuple(q.strip() for q in local.questions),
                answer=local.answer.strip(),
                fees=local.fees,
                documents=tuple(local.documents),
                duration=local.duration,
            )
            self._check_answer_links(name, local.answer, local_node, lang)
            q_node = _child(local_node, "questions")
            entry_id = str(raw.get("id", "?"))
            for qi, q in enumerate(local.questions):
                self.questions.append(QuestionRef(entry_id, lang, q.strip(), name, _line(_child(q_node, qi))))
        for lang in self.languages:
            if lang not in raw and lang in self.required:
                self.problem(name, line, f"entry {raw.get('id', '?')!r}: missing language {lang!r}")
            elif lang not in raw:
                self.problem(name, line, f"entry {raw.get('id', '?')!r}: no {lang!r} text yet; answered in another language by the fallback chain",
                             "warning")
        if model is None or any(lang not in texts for lang in self.required):
            return None
        if model.office:
            self.office_refs.append((model.office, name, _line(_child(node, "office"))))
        for li, link in enumerate(model.links):
            for lang in self.required:
                if lang not in link.label:
                    self.problem(name, _line(_child(_child(node, "links"), li)), f"link label missing language {lang!r}")
        return Entry(
            id=model.id,
            kind=model.kind,
            texts=texts,
            source=f"{name}:{line}",
            links=tuple(Link(link.kind, str(link.url), dict(link.label)) for link in model.links),
            office=model.office,
            leika=model.leika,
            tags=frozenset(model.tags),
            owner=model.owner,
            last_reviewed=model.last_reviewed,
            valid_from=model.valid_from,
            valid_until=model.valid_until,
            emergency=model.emergency,
            action=model.action,
        )

    def _check_answer_links(self, name: str, answer: str, node: yaml.Node | None, lang: str) -> None:
        answer_node = _child(node, "answer")
        for m in MARKDOWN_LINK.finditer(answer):
            url = m.group(2)
            if not re.match(r"^(https?://[^\s/]+\.[^\s]+|mailto:\S+@\S+|tel:\+?[\d ]+)$", url) and not _is_script(url):
                self.problem(name, _line(answer_node), f"{lang}: answer links to a bad URL {url!r}")
        # The scalar's own text, so that offsets give the line in the file.
        value = answer_node.value if isinstance(answer_node, yaml.ScalarNode) else answer
        for offset, url, raw_html in _links_in(value):
            where = _line_at(answer_node, offset) if isinstance(answer_node, yaml.ScalarNode) else _line(node)
            if _is_script(url):
                # An error, not a warning: rendering escapes it, but no city answer needs a script
                # link, it shows citizens a broken link, and it is the mark of pasted or hostile text.
                self.problem(name, where, f"{lang}: answer links to a bad URL {_shown(url)}: a script; only https, mailto and tel links are allowed")
            elif raw_html:
                self.problem(name, where, f"{lang}: raw HTML is shown to citizens as text; write links as [text](https://…)", "warning")

    def _offices(self, name: str, body: Any, node: yaml.Node | None) -> None:
        if not isinstance(body, list):
            self.problem(name, _line(node), "'offices' must be a list ('- id: …')")
            return
        for i, raw in enumerate(body):
            item_node = _child(node, i)
            model = self._validate(OfficeModel, raw, name, item_node)
            if model is None:
                continue
            if model.id in self.offices:
                self.problem(name, _line(item_node), f"duplicate office id {model.id!r}")
                continue
            hours: dict[int, tuple[TimeSpan, ...]] = {}
            for day, spans in model.hours.items():
                hours[WEEKDAYS.index(day)] = tuple(TimeSpan(*parse_span(s)) for s in spans)
            self.offices[model.id] = Office(
                id=model.id, names=dict(model.name), address=model.address, phone=model.phone,
                hours=hours, email=model.email, url=str(model.url) if model.url else None,
                closed=frozenset(model.closed), aliases={lang: tuple(names) for lang, names in model.aliases.items()},
                pickup_documents=frozenset(model.pickup_documents),
            )
            for document in model.pickup_documents:
                # One office per document: a notice that named one of two would send half the people to the wrong one.
                if self.pickup_at.setdefault(document, model.id) != model.id:
                    self.problem(name, _line(_child(item_node, "pickup_documents")),
                                 f"{model.id!r}: {document!r} is already collected at {self.pickup_at[document]!r} (pickup_documents)")

    def _synonyms(self, name: str, body: Any, node: yaml.Node | None) -> None:
        if not isinstance(body, dict):
            self.problem(name, _line(node), "'synonyms' must map a language to 'word: [variants]'")
            return
        for lang, mapping in body.items():
            lang_node = _child(node, lang)
            if not isinstance(mapping, dict):
                self.problem(name, _line(lang_node), f"synonyms for {lang!r} must map a word to a list of variants")
                continue
            for canonical, variants in mapping.items():
                entry_node = _child(lang_node, canonical)
                if isinstance(variants, str):
                    variants = [variants]
                if not isinstance(variants, list) or not all(isinstance(v, str | int) for v in variants):
                    self.problem(name, _line(entry_node), f"synonyms of {canonical!r} must be a list of words")
                    continue
                for v in variants:
                    key = str(v).strip().lower()
                    if key in self.synonyms and self.synonyms[key] != str(canonical):
                        self.problem(name, _line(entry_node), f"{v!r} is already a synonym of {self.synonyms[key]!r}", "warning")
                    self.synonyms[key] = str(canonical)

    def _off_topic(self, name: str, body: Any, node: yaml.Node | None) -> None:
        if not isinstance(body, dict):
            self.problem(name, _line(node), "'off_topic' must map a language to a list of questions")
            return
        for lang, questions in body.items():
            lang_node = _child(node, lang)
            if lang not in self.languages:
                self.problem(name, _line(lang_node), f"unknown language {lang!r} (the bot speaks {', '.join(self.languages)})")
                continue
            if not isinstance(questions, list):
                self.problem(name, _line(lang_node), f"off_topic {lang!r} must be a list of questions ('- …')")
                continue
            for i, text in enumerate(questions):
                line = _line(_child(lang_node, i))
                if not isinstance(text, str) or not text.strip():
                    self.problem(name, line, "an off-topic question must be a line of text")
                    continue
                self.off_topic.append(QuestionRef("", str(lang), text, name, line))

    def _validate(self, model: type[BaseModel], raw: Any, name: str, node: yaml.Node | None, prefix: tuple[Any, ...] = ()) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                target = node
                for part in loc:
                    nxt = _child(target, part)
                    if nxt is None:
                        break
                    target = nxt
                where = ".".join(str(p) for p in prefix + loc) or "entry"
                message = err["msg"]
                if err["type"] == "extra_forbidden":
                    message = "unknown field (check the spelling)"
                elif err["type"] == "missing":
                    message = "required field is missing"
                ident = raw.get("id") if isinstance(raw, dict) else None
                label = f"{ident!r}: " if ident and not prefix else ""
                self.problem(name, _line(target), f"{label}{where}: {message}")
            return None

    def finish(self) -> LoadResult:
        for office, name, line in self.office_refs:
            if office not in self.offices:
                self.problem(name, line, f"unknown office {office!r} (not in offices.yaml)")
        known = set(self.entries)
        kb = KnowledgeBase(
            entries=self.entries,
            offices=self.offices,
            synonyms=self.synonyms,
            languages=self.languages,
            questions=[q for q in self.questions if q.entry_id in known],
            off_topic=self.off_topic,
            scope=self.scope,
        )
        return LoadResult(kb, self.problems)


def _is_language_key(key: object) -> bool:
    """Two-letter keys that are not entry fields ("id") are language blocks: de, en, fr, …"""
    return isinstance(key, str) and bool(LANGUAGE_KEY.match(key)) and key not in EntryModel.model_fields


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v  # type: ignore[no-any-return]
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]  # type: ignore[no-any-return]
    return None


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _line_at(node: yaml.ScalarNode, offset: int) -> int:
    """The file line of ``offset`` in a scalar's value; a block scalar (answer: |) starts on the
    line after its indicator."""
    value: str = node.value
    return int(node.start_mark.line) + 1 + value.count("\n", 0, offset) + (1 if node.style in ("|", ">") else 0)


def _refused_shape(root: yaml.Node, text: str) -> tuple[int, str] | None:
    """(line, message) if the document uses an alias or nests too deeply, checked on the composed
    nodes before anything is built from them.

    An alias makes the composer share one node: each use is cheap here, but everything that walks
    the document afterwards expands it, and nine levels of eight uses each are 8**9 copies (a
    "billion laughs" file of a few hundred bytes). Knowledge files need no aliases, so any is refused.
    """
    seen: set[int] = set()
    todo: list[tuple[yaml.Node, int]] = [(root, 1)]
    while todo:
        node, depth = todo.pop()
        if id(node) in seen:
            return _alias_line(text), "YAML aliases (*name) are not allowed in knowledge files; write the text out in full"
        seen.add(id(node))
        if depth > MAX_DEPTH:
            return _line(node), f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(node, yaml.MappingNode):
            todo.extend((part, depth + 1) for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            todo.extend((item, depth + 1) for item in node.value)
    return None


def _alias_line(text: str) -> int:
    """The line of the first alias; parsing to events expands nothing."""
    for event in yaml.parse(text, Loader=_YamlLoader):
        if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
            return event.start_mark.line + 1
    return 1


def _links_in(text: str) -> Iterator[tuple[int, str, bool]]:
    """(offset, target, whether in raw HTML) of every link target in an answer."""
    for m in _MARKDOWN_TARGET.finditer(text):
        yield m.start(1), m.group(1), False
    for m in _HTML_URL.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        yield m.start(group), m.group(group), True


def _is_script(url: str) -> bool:
    plain = _IGNORED_IN_SCHEME.sub("", html.unescape(url)).lower()
    return plain.startswith(_SCRIPT_SCHEMES)


def _shown(url: str) -> str:
    """A hostile target, shortened for a report line."""
    flat = " ".join(url.split())
    return repr(flat if len(flat) <= 40 else flat[:39] + "…")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"

