from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.markup import to_html
from bot.channels.splitting import split_message


def test_short_text_is_one_chunk() -> None:
    assert split_message("kurz", 4096) == ["kurz"]


def test_splits_at_paragraphs() -> None:
    paras = ["a" * 3000, "b" * 3000, "c" * 100]
    assert split_message("\n\n".join(paras), 4096) == ["a" * 3000, "b" * 3000 + "\n\n" + "c" * 100]


def test_overlong_line_is_cut_at_a_space() -> None:
    text = ("wort " * 2000).strip()
    chunks = split_message(text, 4096)
    assert all(len(c) <= 4096 for c in chunks)
    assert " ".join(c.strip() for c in chunks).split() == text.split()


@given(st.text(alphabet=st.sampled_from(list("ab <&>\n*")), max_size=3000), st.integers(min_value=20, max_value=500))
def test_rendered_chunks_fit_and_lose_nothing(text: str, limit: int) -> None:
    chunks = split_message(text, limit, lambda t: len(to_html(t)))
    assert all(len(to_html(c)) <= limit for c in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
