from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.markup import reply_as_plain, to_html, to_plain
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
    out = to_html(text.replace("**", "").replace("](", ""))
    assert "<" not in out.replace("<b>", "").replace("</b>", "")
