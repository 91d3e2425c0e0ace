from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.markup import reply_as_plain, to_html, to_html_lines, to_plain
from bot.core.models import Button, Reply


def test_plain_rendering() -> None:
    assert to_plain("**Fett** und [Formular](https://musterstadt.example/f)") == "Fett und Formular (https://musterstadt.example/f)"


def test_buttons_degrade_to_lines_and_numbers() -> None:
    reply = Reply("Meinten Sie …?", buttons=(Button("Antrag", url="https://musterstadt.example/a"),), choices=(Button("A", payload="entry:a"), Button("B", payload="entry:b")))
    assert reply_as_plain(reply) == "Meinten Sie …?\n\n→ Antrag: https://musterstadt.example/a\n\n1. A\n2. B"


def test_html_rendering_escapes_everything_else() -> None:
    out = to_html("**Gebühr** <script>x</script> & [Antrag](https://musterstadt.example/a?x=1&y=2)\n- Punkt")
    assert out == '<b>Gebühr</b> &lt;script&gt;x&lt;/script&gt; &amp; <a href="https://musterstadt.example/a?x=1&amp;y=2">Antrag</a>\n• Punkt'


def test_javascript_links_stay_text() -> None:
    assert "<a" not in to_html("[klick](javascript:alert(1))")


@given(st.text())
def test_no_tag_survives_from_input(text: str) -> None:
    out = to_html(text.replace("**", "").replace("](", "").replace("```", ""))
    assert "<" not in out.replace("<b>", "").replace("</b>", "")


def test_code_block_is_pre_and_nothing_else() -> None:
    text = 'Ihre Daten:\n\n```json\n{\n  "s": "**x** <b> [a](https://e.example)\n- y"\n}\n```\n\n**Ende**'
    out = to_html(text)
    assert out == 'Ihre Daten:\n\n<pre>{\n  "s": "**x** &lt;b&gt; [a](https://e.example)\n- y"\n}</pre>\n\n<b>Ende</b>'
    assert to_html_lines(text) == 'Ihre Daten:<br><br><pre>{\n  "s": "**x** &lt;b&gt; [a](https://e.example)\n- y"\n}</pre><br><br><b>Ende</b>'
    assert to_plain(text) == 'Ihre Daten:\n\n{\n  "s": "**x** <b> [a](https://e.example)\n- y"\n}\n\nEnde'


def test_an_unclosed_fence_stays_escaped_text() -> None:
    assert to_html("```\n<i>x</i>") == "```\n&lt;i&gt;x&lt;/i&gt;"


@given(st.text())
def test_no_tag_survives_inside_code(text: str) -> None:
    out = to_html(f"```\n{text.replace('```', '')}\n```")
    assert out.startswith("<pre>") and out.endswith("</pre>")
    assert "<" not in out[len("<pre>"):-len("</pre>")]


def test_blocks_keep_paragraphs_lists_tables_and_code_apart() -> None:
    from bot.channels.markup import to_blocks

    blocks = to_blocks("**Mitbringen:**\n- Ausweis\n- Foto [Info](https://a.example/foto)\n\n| Tag | Zeit |\n|:--|--:|\n| Mo | 8–16 |\n\n"
                       "Ein | Strich ist kein Tisch\n\n```\n**kein** [Link](https://b.example)\n```")
    assert [b["type"] for b in blocks] == ["p", "list", "table", "p", "pre"]
    assert blocks[0]["lines"] == [[{"t": "b", "text": "Mitbringen:"}]]
    assert blocks[1]["items"][1] == [{"t": "text", "text": "Foto "}, {"t": "a", "text": "Info", "href": "https://a.example/foto"}]
    assert blocks[2]["rows"] == [[[{"t": "text", "text": "Mo"}], [{"t": "text", "text": "8–16"}]]]
    assert blocks[3]["lines"] == [[{"t": "text", "text": "Ein | Strich ist kein Tisch"}]]
    assert blocks[4] == {"type": "pre", "text": "**kein** [Link](https://b.example)"}
