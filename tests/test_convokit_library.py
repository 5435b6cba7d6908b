"""Against the real ConvoKit library (a heavy, bench-only dependency: skipped when it is not installed).

Run with: pip install convokit && python -m pytest -m slow tests/test_convokit_library.py
"""

from __future__ import annotations

import pytest

import forumscope
from forumscope.export.convokit import export_convokit
from forumscope.store.case import open_case

pytestmark = pytest.mark.slow


def test_convokit_loads_our_export_and_we_load_convokits_corpus(tiny_forum, tmp_path):
    convokit = pytest.importorskip("convokit")
    forumscope.ingest_sources([tiny_forum], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        export_convokit(c, tmp_path / "ours")
    corpus = convokit.Corpus(filename=str(tmp_path / "ours"))
    assert len(list(corpus.iter_utterances())) == 5
    assert corpus.get_utterance("p3").reply_to == "p2"
    assert corpus.get_utterance("p2").speaker.id == "u2"
    assert {c.id for c in corpus.iter_conversations()} == {"t1", "t2"}

    # a corpus written by ConvoKit itself
    speakers = {s: convokit.Speaker(id=s) for s in ("ann", "bob")}
    utts = [convokit.Utterance(id="1", speaker=speakers["ann"], conversation_id="1", reply_to=None,
                               timestamp=1600000000, text="how do I patch the game?"),
            convokit.Utterance(id="2", speaker=speakers["bob"], conversation_id="1", reply_to="1",
                               timestamp=1600000600, text="use the launcher option")]
    made = convokit.Corpus(utterances=utts)
    made.dump("made", base_path=str(tmp_path))
    r = forumscope.ingest_sources([tmp_path / "made"], tmp_path / "back")
    assert r.formats == ["convokit"] and r.balanced and r.rejected == 0
    with open_case(tmp_path / "back") as c:
        got = c.con.execute("SELECT id, author_id, parent_id, thread_id, text FROM posts ORDER BY id").fetchall()
    assert got == [("1", "ann", None, "1", "how do I patch the game?"), ("2", "bob", "1", "1", "use the launcher option")]
