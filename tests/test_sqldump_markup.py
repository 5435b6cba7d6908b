"""Markup to text (forumscope.markup): quotes in every engine's dialect become references and leave the
text, mentions and links are kept as data, hostile HTML yields text only, charset repair."""

from __future__ import annotations

import pytest

from forumscope.markup import to_text
from forumscope.sqldump.values import decode_column, repair_mojibake, to_text as bytes_to_text


def refs(raw: str, fmt: str) -> list[tuple]:
    return [(r.kind, r.target_name, r.target_post_id, r.target_user_id) for r in to_text(raw, fmt).refs]


@pytest.mark.parametrize("raw, fmt, quote", [
    ('[quote="ann" post_id=12 time=1600000000 user_id=3]old[/quote]new', "bbcode", ("quote", "ann", "12", "3")),
    ("[quote author=ann link=msg=12 date=1600000000]old[/quote]new", "bbcode", ("quote", "ann", "12", None)),
    ("[quote author=ann link=topic=5.msg12#msg12 date=1]old[/quote]new", "bbcode", ("quote", "ann", "12", None)),
    ("[quote='ann' pid='12' dateline='1600000000']old[/quote]new", "bbcode", ("quote", "ann", "12", None)),
    ("[QUOTE=ann;12]old[/QUOTE]new", "bbcode", ("quote", "ann", "12", None)),
    ('[QUOTE="ann, post: 12, member: 3"]old[/QUOTE]new', "bbcode", ("quote", "ann", "12", "3")),
    ('[quote="ann, post:12, topic:4"]\nold\n[/quote]\nnew', "markdown", ("quote", "ann", "12", None)),
    ("[quote=&quot;ann&quot;:a1b2c3d4]old[/quote:a1b2c3d4]new", "phpbb", ("quote", "ann", None, None)),
    ('<r><QUOTE author="ann" post_id="12" time="1" user_id="3"><s>[quote="ann" post_id=12]</s>old<e>[/quote]</e>'
     "</QUOTE>new</r>", "phpbb", ("quote", "ann", "12", "3")),
    ('<aside class="quote" data-username="ann" data-post="12" data-topic="4"><blockquote>old</blockquote></aside>'
     "<p>new</p>", "html", ("quote", "ann", "12", None)),
])
def test_quotes_in_every_dialect(raw, fmt, quote):
    c = to_text(raw, fmt)
    assert c.text == "new"
    assert (c.refs[0].kind, c.refs[0].target_name, c.refs[0].target_post_id, c.refs[0].target_user_id) == quote


def test_nested_quotes_count_once_and_text_stays():
    c = to_text("[quote=a]x [quote=b]y[/quote] z[/quote]mine [b]bold[/b] [i]it[/i]", "bbcode")
    assert c.text == "mine bold it" and [r.target_name for r in c.refs if r.kind == "quote"] == ["a"]


def test_mentions_links_attachments_images():
    c = to_text("hi @rusty.coder, see [url=http://a.example/x]this[/url] and [img]http://i.example/p.png[/img]"
                "[attachment=0]file.zip[/attachment] [USER=7]@bob[/USER]", "bbcode")
    assert c.text == "hi @rusty.coder, see this and  @bob"  # removed images leave their surrounding spaces
    kinds = [(r.kind, r.target_name or r.detail, r.target_user_id) for r in c.refs]
    assert ("mention", "rusty.coder", None) in kinds and ("mention", "bob", "7") in kinds
    assert ("link", "http://a.example/x", None) in kinds and ("link", "http://i.example/p.png", None) in kinds
    assert ("attachment", "file.zip", None) in kinds


def test_escaped_bbcode_with_br_and_entities():
    c = to_text("[quote author=a link=msg=1 date=1]q[/quote]<br />it&#039;s &quot;fine&quot; &amp; ok<br />x",
                "bbcode-escaped")
    assert c.text == "it's \"fine\" & ok\nx"


def test_hostile_html_gives_text_only():
    c = to_text('<p onclick="x()">a<script>alert(1)</script><style>p{}</style> b <iframe src="http://e"></iframe>'
                '<img src="http://t.example/pixel.gif" onerror="y()"></p>', "html")
    assert c.text == "a b" and "alert" not in c.text
    assert ("link", "http://t.example/pixel.gif") in [(r.kind, r.detail) for r in c.refs]


def test_markdown_keeps_identifiers():
    assert to_text("@old_coder said o_O and **yes** `code_x`", "markdown").text == "@old_coder said o_O and yes code_x"


def test_mojibake_repair_and_invalid_utf8():
    assert repair_mojibake("KÃ¶ln") == "Köln" and repair_mojibake("Köln") is None
    assert repair_mojibake("naÃ¯ve cafÃ©") == "naïve café"
    assert repair_mojibake("Ã\u00a0 la carte") is not None and repair_mojibake("plain ascii") is None
    assert repair_mojibake("â‚¬5") == "€5"  # via Windows-1252 bytes
    from collections import Counter

    stats: Counter = Counter()
    assert bytes_to_text("Köln".encode("latin-1"), stats) == "Köln" and stats["not_utf8"] == 1
    col = decode_column([b"'K\xc3\x83\xc2\xb6ln'", b"'ok'", b"NULL", b"'K\xf6ln'"], "mysql", stats)
    assert col.to_pylist() == ["Köln", "ok", None, "Köln"]
    assert stats["latin1_as_utf8"] == 1 and stats["not_utf8"] == 2


def test_discourse_uploads_are_attachment_references():
    raw = ("See [lap-times.csv|attachment](upload://aBcD123.csv) (12.5 KB) and ![chart|690x388](upload://x9.png)\n"
           "also [old](/uploads/default/original/1X/abc.pdf) but [the wiki](https://example.org/wiki) (3 KB)")
    c = to_text(raw, "markdown")
    attachments = sorted(r.detail for r in c.refs if r.kind == "attachment")
    links = [r.detail for r in c.refs if r.kind == "link"]
    assert attachments == ["/uploads/default/original/1X/abc.pdf", "upload://aBcD123.csv", "upload://x9.png"]
    assert links == ["https://example.org/wiki"]
    assert "upload" not in c.text and "KB) and" not in c.text and "12.5" not in c.text
    assert "the wiki (3 KB)" in c.text  # only a file link loses its size
