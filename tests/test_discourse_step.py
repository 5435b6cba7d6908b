"""The discourse step: hand-computed aggregates on a tiny forum, planted labels recovered on a synthetic one."""

from __future__ import annotations

import sys

import pytest

import forumscope
from forumscope.cli.main import main
from forumscope.discourse.codebook import load_codebook
from forumscope.discourse.evaluate import synthetic_truth, tags_vs_truth
from forumscope.errors import ConfigError
from forumscope.pipeline.registry import all_steps, get_step
from forumscope.pipeline.runner import run_steps
from forumscope.store.case import open_case
from conftest import write_forum

CODEBOOK = """\
id: mini
version: "2"
languages: [en]
help_seeking_code: stop
codes:
  - id: stop
    label: Wants to stop
    definition: The writer wants to stop.
    examples: ["I want to quit."]
    lexicon:
      en: [want to stop, quit*]
  - id: offer
    label: Offer
    definition: Offers a file.
    examples: ["Uploaded it."]
    lexicon:
      en: [uploaded, "[rel]"]
    patterns:
      en: ['^\\s*here you go\\b']
"""


def tiny(tmp_path):
    f = "t"
    posts = [
        ("p1", "t1", None, "u1", "2020-01-05T10:00:00Z", "I want to stop. How did you quit?"),  # stop (2 sentences)
        ("p2", None, "p1", "u2", "2020-01-06T10:00:00Z", "uploaded the patch"),                  # offer, reply to p1
        ("p3", None, "p1", "u3", "2020-01-07T10:00:00Z", "Here you go: I quit too"),              # offer + stop
        ("p4", "t2", None, "u1", "2020-02-01T10:00:00Z", "nothing to see here at all"),          # none
        ("p5", "t2", None, "u2", "2020-02-02T10:00:00Z", "uploaded [rel]"),                      # offer, flat reply
        ("p6", "t2", None, "u3", "2020-02-03T10:00:00Z", None),                                  # no text: not scored
    ]
    rows = []
    for i, (pid, tid, parent, author, ts, text) in enumerate(posts):
        r = {"forum_id": f, "id": pid, "author_id": author, "created_at": ts, "text": text}
        if tid:
            r["thread_id"] = tid
        if parent:
            r["parent_id"] = parent
        r["position"] = 0 if pid in ("p1", "p4") else i
        rows.append(r)
    forum = write_forum(tmp_path / "tiny", {
        "forums": [{"id": f, "name": "Tiny"}],
        "boards": [{"forum_id": f, "id": "b1", "name": "One"}, {"forum_id": f, "id": "b2", "name": "Two"}],
        "users": [{"forum_id": f, "id": u} for u in ("u1", "u2", "u3")],
        "threads": [{"forum_id": f, "id": "t1", "board_id": "b1"}, {"forum_id": f, "id": "t2", "board_id": "b2"}],
        "posts": rows,
    })
    cb = tmp_path / "mini.yaml"
    cb.write_text(CODEBOOK)
    forumscope.ingest_sources([forum], tmp_path / "case")
    return tmp_path / "case", cb


def test_tiny_forum_hand_computed(tmp_path):
    case_dir, cb = tiny(tmp_path)
    with open_case(case_dir) as c:
        rec = run_steps(c, ["discourse"], {"discourse": {"codebook": str(cb), "layers": ("rules",),
                                                         "languages": ("en", "de")}})[0]
        run = rec.run_id
        tags = c.con.execute("SELECT post_id, sentence_no, code, layer, score FROM discourse_tags WHERE run_id = ? "
                             "ORDER BY 1, 2 NULLS FIRST, 3", [run]).fetchall()
        assert tags == [
            ("p1", None, "stop", "rules", pytest.approx(2 / 3)),  # "want to stop" + "quit"
            ("p1", 0, "stop", "rules", 0.5), ("p1", 1, "stop", "rules", 0.5),
            ("p2", None, "offer", "rules", 0.5), ("p2", 0, "offer", "rules", 0.5),
            ("p3", None, "offer", "rules", 0.5), ("p3", None, "stop", "rules", 0.5),
            ("p3", 0, "offer", "rules", 0.5), ("p3", 0, "stop", "rules", 0.5),
            ("p5", None, "offer", "rules", pytest.approx(2 / 3)), ("p5", 0, "offer", "rules", pytest.approx(2 / 3)),
        ]
        langs = dict(c.con.execute("SELECT post_id, language FROM discourse_languages WHERE run_id = ?",
                                   [run]).fetchall())
        assert set(langs) == {"p1", "p2", "p3", "p4", "p5"}           # p6 has no text
        assert langs["p1"] == "en" and langs["p2"] == "unknown"       # short posts are unknown

        def prev(dim, key, code):
            return c.con.execute("SELECT posts, tagged_posts, share FROM discourse_prevalence WHERE run_id = ? "
                                 "AND dimension = ? AND key = ? AND code = ?", [run, dim, key, code]).fetchall()

        assert prev("all", "all", "stop") == [(5, 2, 0.4)] and prev("all", "all", "offer") == [(5, 3, 0.6)]
        assert prev("board", "b1", "stop") == [(3, 2, pytest.approx(2 / 3))]
        assert prev("board", "b2", "stop") == [(2, 0, 0.0)]            # zero rows kept for boards
        assert prev("month", "2020-02", "offer") == [(2, 1, 0.5)]
        assert prev("member", "u1", "stop") == [(2, 1, 0.5)]
        assert prev("member", "u1", "offer") == []                     # members: only rows with a tag
        assert prev("language", "unknown", "offer") == [(2, 2, 1.0)]      # p2, p5 are short
        assert prev("language", "en", "offer") == [(3, 1, pytest.approx(1 / 3))]
        co = c.con.execute("SELECT code_a, code_b, posts_both, posts_a, posts_b, lift FROM discourse_cooccurrence "
                           "WHERE run_id = ?", [run]).fetchall()
        assert co == [("offer", "stop", 1, 3, 2, pytest.approx(1 * 5 / (3 * 2)))]
        help_rows = {r[0]: r[1:] for r in c.con.execute(
            "SELECT reply_code, replies, help_posts, help_posts_answered, all_replies, share "
            "FROM discourse_help_responses WHERE run_id = ?", [run]).fetchall()}
        # help posts: p1 and p3 (both tagged stop); p1 is answered by p2 and p3; p5 answers p4 (not help)
        assert help_rows["offer"] == (2, 2, 1, 2, 1.0)
        assert help_rows["stop"] == (1, 2, 1, 2, 0.5)
        assert help_rows["none"] == (0, 2, 1, 2, 0.0)
        layers = c.con.execute("SELECT codebook, codebook_version, layer, model, threshold, posts_scored, "
                               "sentences_scored FROM discourse_layers WHERE run_id = ?", [run]).fetchall()
        assert layers[0] == ("mini", "2", "rules", None, 0.5, 5, 6)
        # the last row: language identification, with its model (lingua alone on a forum this small)
        assert layers[1][:3] == ("mini", "2", "language") and layers[1][4:] == (None, 5, 0)
        assert layers[1][3].startswith("lingua ") and "high accuracy" in layers[1][3]
        methods = c.con.execute("SELECT language, method FROM discourse_languages WHERE run_id = ? ORDER BY post_id",
                                [run]).fetchall()
        assert {m for lang, m in methods if lang == "unknown"} == {None}
        assert {m for lang, m in methods if lang != "unknown"} == {"lingua"}


def test_default_layers_work_without_torch(tmp_path, monkeypatch):
    """`analyze` runs the step by default with rules + fast, which must not need torch."""
    assert "discourse" in all_steps()
    step = get_step("discourse")
    assert step().layers == ("rules", "fast")
    case_dir, cb = tiny(tmp_path)
    blocked = ("torch", "sentence_transformers", "transformers")

    class Block:  # import torch (and friends) now fails, as where the nlp extra is not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ImportError(f"No module named {name!r} (blocked by the test)")
            return None

    for mod in [m for m in sys.modules if m.split(".")[0] in blocked]:
        monkeypatch.delitem(sys.modules, mod)  # restored after the test
    monkeypatch.setattr(sys, "meta_path", [Block(), *sys.meta_path])
    with open_case(case_dir) as c:
        rec = run_steps(c, ["discourse"], {"discourse": {"codebook": str(cb), "sentence_level": False}})[0]
        layers = [r[0] for r in c.con.execute("SELECT layer FROM discourse_layers WHERE run_id = ? ORDER BY rowid",
                                              [rec.run_id]).fetchall()]
        assert layers == ["rules", "fast", "combined", "language"]
        with pytest.raises(ConfigError, match="nlp extra"):
            run_steps(c, ["discourse"], {"discourse": {"codebook": str(cb), "layers": ("embedding",)}})


def test_definition_only_codebook_tags_nothing_with_rules_and_fast(tmp_path):
    """ward-keenan carries definitions only: rules and fast cannot tag it, and say so (untrained codes)."""
    case_dir, _ = tiny(tmp_path)
    with open_case(case_dir) as c:
        run = run_steps(c, ["discourse"], {"discourse": {"codebook": "ward-keenan"}})[0].run_id
        assert c.con.execute("SELECT count(*) FROM discourse_tags WHERE run_id = ?", [run]).fetchall()[0][0] == 0
        untrained = dict(c.con.execute("SELECT layer, untrained_codes FROM discourse_layers WHERE run_id = ?",
                                       [run]).fetchall())
        assert untrained["fast"].split(", ") == load_codebook("ward-keenan").code_ids


def test_supervised_without_human_codes_is_a_clear_error(tmp_path):
    case_dir, cb = tiny(tmp_path)
    with open_case(case_dir) as c, pytest.raises(ConfigError, match="needs human codes"):
        run_steps(c, ["discourse"], {"discourse": {"codebook": str(cb), "layers": ("supervised",)}})


def test_bad_parameters():
    step = get_step("discourse")
    with pytest.raises(ConfigError, match="layers"):
        step(layers=("rules", "magic"))
    with pytest.raises(ConfigError, match="combine"):
        step(combine="most")


def test_planted_labels_recovered_on_a_synthetic_forum(tmp_path):
    """Per-code F1 against the labels the generator planted (seed not used when writing the lexicons)."""
    from forumscope.synth import generate

    generate(tmp_path / "forum", posts=3000, seed=11)
    forumscope.ingest_sources([tmp_path / "forum"], tmp_path / "case")
    truth = synthetic_truth(tmp_path / "forum")
    codes = load_codebook("operating-model").code_ids
    with open_case(tmp_path / "case") as c:
        run = run_steps(c, ["discourse"], {"discourse": {"languages": ("en", "de", "es")}})[0].run_id
        reports = {layer: tags_vs_truth(c, truth, codes, layer=layer, run_id=run)
                   for layer in ("rules", "fast", "combined")}
        # the detected languages match the declared ones (the generator writes en, de, es)
        agree = c.con.execute("SELECT avg(CASE WHEN l.language = p.language THEN 1 ELSE 0 END) FROM "
                              "discourse_languages l JOIN posts p ON p.id = l.post_id WHERE l.run_id = ?",
                              [run]).fetchall()[0][0]
    assert agree > 0.97
    for layer, rep in reports.items():
        assert rep["macro_f1"] >= 0.85, (layer, rep["macro_f1"])
        for code, r in rep["codes"].items():
            if r["positives"] >= 15:
                assert r["f1"] >= 0.7, (layer, code, r)


def test_aggregates_match_a_pandas_count_of_the_stored_tags(tmp_path):
    """Prevalence and co-occurrence, computed on post numbers and code indices inside the step, equal
    a plain count of the stored tags, languages and posts, on a case with two forums (post ids repeat
    across them) and several batches."""
    import pandas as pd

    from forumscope.synth import SynthParams, generate

    for fid, seed in (("one", 3), ("two", 4)):
        generate(tmp_path / fid, posts=700, seed=seed, params=SynthParams(forum_id=fid))
    forumscope.ingest_sources([tmp_path / "one", tmp_path / "two"], tmp_path / "case")
    with open_case(tmp_path / "case") as c:
        run = run_steps(c, ["discourse"], {"discourse": {"batch_size": 150, "combine": "mean"}})[0].run_id

        def table(q):
            return c.con.execute(q, [run]).df()

        tags = table("SELECT DISTINCT forum_id, post_id, layer, code FROM discourse_tags WHERE run_id = ?")
        posts = table("SELECT l.forum_id, l.post_id, l.language, coalesce(p.board_id, '(none)') AS board, "
                      "coalesce(strftime(p.created_at, '%Y-%m'), '(none)') AS month, "
                      "coalesce(p.author_id, '(guest)') AS member, 'all' AS \"all\" FROM discourse_languages l "
                      "JOIN posts p ON p.forum_id = l.forum_id AND p.id = l.post_id WHERE l.run_id = ?")
        prev = table("SELECT forum_id, layer, code, dimension, key, posts, tagged_posts, share "
                     "FROM discourse_prevalence WHERE run_id = ?")
        co = table("SELECT forum_id, layer, code_a, code_b, posts_both, posts_a, posts_b, posts, lift "
                   "FROM discourse_cooccurrence WHERE run_id = ?")
    assert set(posts["forum_id"]) == {"one", "two"} and posts["post_id"].duplicated().any()
    assert len(tags) > 300 and set(tags["layer"]) == {"rules", "fast", "combined"}
    tagged = tags.merge(posts, on=["forum_id", "post_id"])
    assert len(tagged) == len(tags)
    for dim in ("all", "board", "month", "language", "member"):
        denom = posts.groupby(["forum_id", dim]).size()
        num = tagged.groupby(["forum_id", dim, "layer", "code"]).size()
        got = prev[prev["dimension"] == dim].set_index(["forum_id", "key", "layer", "code"])
        for (fid, key, layer, code), n in num.items():
            row = got.loc[(fid, key, layer, code)]
            assert (row["posts"], row["tagged_posts"]) == (denom[(fid, key)], n)
            assert row["share"] == pytest.approx(n / denom[(fid, key)])
        if dim == "member":  # members: only the rows with a tag
            assert len(got) == len(num)
        else:  # every layer and code, zeros included
            assert len(got) == len(denom) * 3 * len(set(prev["code"]))
            assert got["tagged_posts"].sum() == num.sum()
    n_posts = posts.groupby("forum_id").size()
    count = tags.groupby(["forum_id", "layer", "code"]).size()
    pairs = tags.merge(tags, on=["forum_id", "post_id", "layer"])
    both = pairs[pairs["code_x"] < pairs["code_y"]].groupby(["forum_id", "layer", "code_x", "code_y"]).size()
    assert len(co) == sum(len(g) * (len(g) - 1) // 2 for _, g in count.groupby(level=[0, 1]))
    assert (co["posts_both"] > 0).sum() == len(both) >= 5
    for r in co.itertuples():
        b = both.get((r.forum_id, r.layer, r.code_a, r.code_b), 0)
        a_n, b_n = count[(r.forum_id, r.layer, r.code_a)], count[(r.forum_id, r.layer, r.code_b)]
        assert (r.posts_both, r.posts_a, r.posts_b, r.posts) == (b, a_n, b_n, n_posts[r.forum_id])
        assert r.lift == pytest.approx(b * n_posts[r.forum_id] / (a_n * b_n))


def test_worker_processes_give_the_same_tags(tmp_path):
    """Scoring batches in two forked workers gives exactly the tags and languages of one process."""
    from forumscope.synth import generate

    generate(tmp_path / "forum", posts=1200, seed=5)
    forumscope.ingest_sources([tmp_path / "forum"], tmp_path / "case")
    got = {}
    with open_case(tmp_path / "case") as c:
        for jobs in (1, 2):
            run = run_steps(c, ["discourse"], {"discourse": {"jobs": jobs, "batch_size": 97}})[0].run_id
            got[jobs] = [c.con.execute(f"SELECT * EXCLUDE (run_id) FROM {t} WHERE run_id = ? ORDER BY ALL",
                                       [run]).fetchall() for t in ("discourse_tags", "discourse_languages",
                                                                   "discourse_prevalence")]
            layers = c.con.execute("SELECT layer, posts_scored, sentences_scored FROM discourse_layers "
                                   "WHERE run_id = ? ORDER BY 1", [run]).fetchall()
            assert layers and all(r[1] == 1200 for r in layers)
    assert len(got[1][0]) > 500 and len(got[1][1]) == 1200
    assert got[1] == got[2]
    # the fast layer with sentence context: the same in workers, and its sentence scores differ
    with open_case(tmp_path / "case") as c:
        ctx = {}
        for jobs in (1, 2):
            run = run_steps(c, ["discourse"], {"discourse": {"jobs": jobs, "batch_size": 97, "layers": ("fast",),
                                                             "fast_context": True}})[0].run_id
            ctx[jobs] = c.con.execute("SELECT * EXCLUDE (run_id) FROM discourse_tags WHERE run_id = ? ORDER BY ALL",
                                      [run]).fetchall()
            model = c.con.execute("SELECT model FROM discourse_layers WHERE run_id = ? AND layer = 'fast'",
                                  [run]).fetchall()[0][0]
            assert "sentence context" in model
    plain = [r for r in got[1][0] if r[5] == "fast"]
    assert ctx[1] == ctx[2] and len(ctx[1]) > 100 and ctx[1] != plain


def test_cli_tag(tmp_path, capsys):
    case_dir, cb = tiny(tmp_path)
    assert main(["tag", "--case", str(case_dir), "--codebook", str(cb), "--layer", "rules", "--json"]) == 0
    import json

    res = json.loads(capsys.readouterr().out)
    assert [x["layer"] for x in res["layers"]] == ["rules", "language"]
    shares = {x["code"]: x["share"] for x in res["prevalence"]}
    assert shares == {"offer": 0.6, "stop": 0.4}
    assert main(["tag", "--case", str(case_dir), "--codebook", "nope"]) == 2
    assert "unknown codebook" in capsys.readouterr().err


def test_a_context_layer_gets_each_sentence_s_post():
    """A layer with uses_context is called with groups = the post of each sentence (in reading order)."""
    import numpy as np

    from forumscope.discourse.language import LanguageIdentifier
    from forumscope.discourse.scoring import BatchScorer

    calls = []

    class FirstSentence:
        name, threshold, model, uses_context = "ctx", 0.5, None, True

        def score(self, texts, groups=None):
            calls.append(None if groups is None else list(groups))
            if groups is None:
                return np.zeros((len(texts), 1))
            g = np.asarray(groups)
            first = np.r_[True, g[1:] != g[:-1]]
            return first.astype(float)[:, None]  # 1 for the first sentence of each post

    scorer = BatchScorer([FirstSentence()], [0.5], LanguageIdentifier(("en",)), True, "any", np.zeros(1, bool))
    out = scorer.score(["First one here. Second one here. Third one here.", "", "Alone here.",
                        "Begin with this. End with that."])
    assert calls == [None, [0, 0, 0, 2, 3, 3]]  # posts first (no groups), then sentences with their post
    sent = [(p.tolist(), s.tolist()) for li, p, s, c, v in out.tags if s is not None][0]
    assert sent == ([0, 2, 3], [0, 0, 0])


def test_torch_layers_are_never_forked():
    from forumscope.discourse.step import DiscourseStep

    class Plain:
        pass

    class Torch:
        fork_safe = False

    step = DiscourseStep(jobs=2)
    assert step._workers(10**6, [Plain()]) == 2
    assert step._workers(10**6, [Plain(), Torch()]) == 1
    assert DiscourseStep(layers=("rules", "embedding"), jobs=2)._workers(10**6, [Plain()]) == 1
    assert DiscourseStep(fast_teacher="embedding", jobs=2)._workers(10**6, [Plain()]) == 1
    assert DiscourseStep()._workers(100, [Plain()]) == 1  # a small forum: no workers


def test_distilled_language_identification_agrees_with_lingua(tmp_path):
    """language_accuracy=distilled: lingua on a sample, a word model for the posts it is sure of; the
    languages match lingua alone (high accuracy) on nearly every post, the tags do not change, and
    forked workers give the same answers."""
    from forumscope.synth import generate

    generate(tmp_path / "forum", posts=1500, seed=9)
    forumscope.ingest_sources([tmp_path / "forum"], tmp_path / "case")
    got = {}
    with open_case(tmp_path / "case") as c:
        for name, params in (("high", {"language_accuracy": "high", "jobs": 1}),
                             ("distilled", {"language_accuracy": "distilled", "language_sample": 700, "jobs": 1}),
                             ("distilled-2", {"language_accuracy": "distilled", "language_sample": 700, "jobs": 2,
                                              "batch_size": 211})):
            run = run_steps(c, ["discourse"], {"discourse": params})[0].run_id
            got[name] = (dict(((p, (lang, m)) for p, lang, m in c.con.execute(
                "SELECT post_id, language, method FROM discourse_languages WHERE run_id = ?", [run]).fetchall())),
                c.con.execute("SELECT * EXCLUDE (run_id) FROM discourse_tags WHERE run_id = ? ORDER BY ALL",
                              [run]).fetchall(),
                c.con.execute("SELECT model FROM discourse_layers WHERE run_id = ? AND layer = 'language'",
                              [run]).fetchall()[0][0])
    high, dist = got["high"][0], got["distilled"][0]
    assert len(high) == len(dist) == 1500
    agree = sum(high[p][0] == dist[p][0] for p in high) / len(high)
    assert agree >= 0.98, agree
    methods = [m for _, m in dist.values()]
    assert methods.count("distilled") / len(methods) >= 0.6
    assert all((m is None) == (dist[p][0] == "unknown") for p, (_, m) in dist.items())
    assert got["high"][1] == got["distilled"][1]          # the rules and fast tags do not depend on the language
    assert got["distilled"][0] == got["distilled-2"][0]  # workers: the same answers
    assert "distilled" in got["distilled"][2] and "agreement with lingua" in got["distilled"][2]
