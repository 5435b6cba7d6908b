"""The layers on hand-made text: rules semantics, sentences, languages, the fast pass, combining."""

from __future__ import annotations

import numpy as np
import pytest

from forumscope.discourse.codebook import load_codebook, parse_codebook
from forumscope.discourse.fast import FastLayer, examples_matrix
from forumscope.discourse.language import LanguageIdentifier
from forumscope.discourse.layers import Layer, check_scores, make_layer
from forumscope.discourse.rules import RulesLayer
from forumscope.discourse.sentences import split_sentences
from forumscope.discourse.step import combine_scores, rescale
from forumscope.errors import ConfigError

MINI = """\
id: mini
version: "1"
languages: [en, de]
codes:
  - id: stop
    label: Wants to stop
    definition: The writer wants to stop.
    examples: ["I want to quit this for good.", "How do I stop doing it?"]
    lexicon:
      en: [want to stop, don't want, quit*]
      de: [aufhören]
  - id: offer
    label: Offer
    definition: Offers a file.
    examples: ["Uploaded the patch, grab it.", "Sharing my fixed build here."]
    lexicon:
      en: ["[rel]", uploaded]
    patterns:
      en: ['^\\s*here you go\\b']
"""


@pytest.fixture
def mini():
    return parse_codebook(MINI, "mini.yaml")


def test_rules_semantics(mini):
    layer = RulesLayer()
    layer.fit(mini)
    assert isinstance(layer, Layer)
    texts = [
        "I want to stop.",                       # phrase
        "I WANT   TO\nSTOP and I don\u2019t want this",  # case, white space, curly apostrophe: 2 hits
        "quitting is hard, I quit",              # wildcard: quitting, quit
        "I wanted to stopover",                  # word boundaries: no hit
        "[REL] uploaded",                        # punctuation entry + word
        "Here you go, the file",                 # pattern at the start
        "well, here you go",                     # pattern anchored: no hit
        "Ich will aufhören",                     # German lexicon
        "",
    ]
    h = layer.hits(texts)
    assert h[:, 0].tolist() == [1, 2, 2, 0, 0, 0, 0, 1, 0]
    assert h[:, 1].tolist() == [0, 0, 0, 0, 2, 1, 0, 0, 0]
    s = layer.score(texts)
    assert s[0, 0] == 0.5 and s[1, 0] == pytest.approx(2 / 3) and s[3, 0] == 0.0
    only_en = RulesLayer(languages=("en",))
    only_en.fit(mini)
    assert only_en.hits(["Ich will aufhören"])[0, 0] == 0


def test_rules_refuses_short_wildcards():
    cb = parse_codebook(MINI.replace("quit*", "qu*"), "m.yaml")
    with pytest.raises(ConfigError, match="at least 3 letters"):
        RulesLayer().fit(cb)


def test_sentences():
    assert split_sentences("I want to stop. How did you quit?\ncheers") == [
        "I want to stop.", "How did you quit?\ncheers"]
    assert split_sentences("Use e.g. the old one. Dr. Smith said so!! Really??") == [
        "Use e.g. the old one.", "Dr. Smith said so!!", "Really??"]
    assert split_sentences("") == [] and split_sentences(None) == []
    assert split_sentences("first line here\nsecond line here") == ["first line here", "second line here"]
    # closing quotes and brackets stay with their sentence
    assert split_sentences('He said "stop it." Then (he left.) And that was it.') == [
        'He said "stop it."', "Then (he left.)", "And that was it."]


def test_language_identification_is_restricted_and_short_is_unknown():
    ident = LanguageIdentifier(("en", "de", "es"), min_chars=20)
    langs, conf = ident.identify([
        "The weather here is awful again, rain for seven days straight.",
        "Das Wetter ist wieder furchtbar, seit sieben Tagen Regen.",
        "El tiempo aquí es horrible otra vez, lluvia durante siete días.",
        "ok thanks",
        "@someone_with_a_long_name https://example.org/a/long/path ok",   # mentions and URLs do not count
        None,
    ])
    assert langs == ["en", "de", "es", "unknown", "unknown", "unknown"]
    assert all(0 < c <= 1 for c in conf[:3]) and np.isnan(conf[3:]).all()
    # a language outside the set is never answered: Dutch text gets one of the configured ones
    assert LanguageIdentifier(("en", "de")).identify(["Het weer is hier weer verschrikkelijk slecht."])[0][0] in (
        "en", "de")
    with pytest.raises(ConfigError, match="ISO 639-1"):
        LanguageIdentifier(("en", "klingon"))


def _synth_texts(tmp_path, posts, seed):
    import json

    from forumscope.synth import generate

    generate(tmp_path / "forum", posts=posts, seed=seed)
    with open(tmp_path / "forum" / "posts.ndjson", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def test_distilled_language_model_learns_lingua_and_hands_back_what_it_does_not_know(tmp_path):
    from forumscope.discourse.language import DistilledLanguageIdentifier

    texts = _synth_texts(tmp_path, 1600, 3)
    base = LanguageIdentifier(("en", "de", "es", "fr"))
    ref, _ = base.identify(texts[1000:])
    ident = DistilledLanguageIdentifier(base).fit(texts[:1000])
    assert ident.enabled and set(ident.classes) >= {"en", "de", "es"}
    assert ident.stats["agreement"] >= 0.99 and ident.stats["held_out"] > 100
    langs, conf, methods = ident.detect(texts[1000:])
    assert np.mean([a == b for a, b in zip(langs, ref)]) >= 0.98
    assert methods.count("distilled") >= 0.6 * len(methods)
    d = np.array([m == "distilled" for m in methods])
    assert ((conf[d] >= 0.99) & (conf[d] <= 1)).all()
    assert [m for lang, m in zip(langs, methods) if lang == "unknown"] == [None] * langs.count("unknown")
    # the words hashed once by the discourse step's batch give the same answers (texts with URLs and
    # @mentions are hashed again, cleaned)
    from forumscope.discourse.batch import TextBatch

    mixed = texts[1000:1300] + [f"see http://example.org/{i} and @bob{i} for it: {t}" for i, t in enumerate(texts[1300:])]
    ref = ident.detect(mixed)
    got = ident.detect(mixed, words=TextBatch(mixed).post_words())
    assert got[0] == ref[0] and got[2] == ref[2] and np.allclose(got[1], ref[1], equal_nan=True)

    # trained on English posts only: German and Spanish posts have unknown words, so lingua answers them
    english = [t for t, lang in zip(texts, base.identify(texts)[0]) if lang == "en"]
    only_en = DistilledLanguageIdentifier(base).fit(english[:400])
    assert only_en.enabled and only_en.classes == ["en"]
    probe = ["Das Wetter ist wieder furchtbar, seit sieben Tagen Regen und kein Ende.",
             "El tiempo aquí es horrible otra vez, lluvia durante siete días seguidos."]
    assert only_en.detect(probe)[0] == ["de", "es"] and only_en.detect(probe)[2] == ["lingua", "lingua"]

    # too little text in the sample: no model, lingua answers everything
    thin = DistilledLanguageIdentifier(base).fit(["ok thanks"] * 50 + probe)
    assert not thin.enabled and "too few" in thin.describe() and thin.detect(probe)[2] == ["lingua", "lingua"]
    # a model that does not reach the agreement floor is not used: lingua answers everything
    strict = DistilledLanguageIdentifier(base, min_agreement=1.01).fit(texts[:1000])
    assert not strict.enabled and "not used" in strict.describe()
    assert set(strict.detect(texts[1000:1100])[2]) <= {"lingua", None}


def test_fast_layer_learns_from_labelled_text(mini):
    texts, y = examples_matrix(mini)
    assert y.shape == (4, 2) and y.sum(axis=0).tolist() == [2, 2]
    rng = np.random.default_rng(0)
    stop = ["I want to stop {}", "how do I quit {}", "I need to stop {} for good", "please help me quit {}"]
    offer = ["uploaded {} for you", "sharing {} here", "new build of {} is up", "grab {} while it lasts"]
    things = ["the patch", "the game", "the trainer", "the launcher", "the mod", "the pass"]
    X, Y = [], []
    for _ in range(200):
        j = int(rng.integers(2))
        X.append((stop if j == 0 else offer)[int(rng.integers(4))].format(things[int(rng.integers(6))]))
        Y.append([1 - j, j])
    layer = FastLayer(seed=1).train(mini, X, np.array(Y))
    s = layer.score(["I really want to stop playing the trainer", "uploaded the mod, enjoy"])
    assert s.shape == (2, 2) and s[0, 0] > 0.5 > s[0, 1] and s[1, 1] > 0.5 > s[1, 0]
    # -1 = not labelled: a code with no positives is untrained and scores ~0
    layer2 = FastLayer().train(mini, X, np.c_[np.array(Y)[:, :1], -np.ones((len(X), 1))])
    assert layer2.untrained == ["offer"] and layer2.score(["uploaded"])[0, 1] < 1e-6


def test_fast_layer_from_examples_only(mini):
    layer = FastLayer(teacher="none")
    layer.fit(mini)
    s = layer.score(["How do I stop doing it?", "Uploaded the patch, grab it."])
    assert s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0]
    with pytest.raises(ConfigError, match="no examples"):
        FastLayer().fit(load_codebook("ward-keenan"))


def test_make_layer_and_score_checks():
    assert make_layer("rules").name == "rules"
    with pytest.raises(ConfigError, match="unknown layer"):
        make_layer("magic")
    layer = make_layer("rules")
    with pytest.raises(ConfigError, match="shape"):
        check_scores(layer, np.zeros((2, 3)), 2, 2)
    with pytest.raises(ConfigError, match="outside"):
        check_scores(layer, np.full((1, 1), 1.5), 1, 1)


def test_combining_layers():
    a = np.array([[0.2, 0.6]])   # threshold 0.5: below, above
    b = np.array([[0.9, 0.1]])   # threshold 0.8: above, below
    assert rescale(a, 0.5).tolist() == [[0.2, 0.6]]
    assert rescale(b, 0.8)[0, 0] == pytest.approx(0.75) and rescale(b, 0.8)[0, 1] == pytest.approx(0.0625)
    anyc = combine_scores([a, b], [0.5, 0.8], "any")
    allc = combine_scores([a, b], [0.5, 0.8], "all")
    assert (anyc >= 0.5).tolist() == [[True, True]] and (allc >= 0.5).tolist() == [[False, False]]
    both = combine_scores([np.array([[0.7]]), np.array([[0.9]])], [0.5, 0.8], "all")
    assert both[0, 0] >= 0.5


def _reference_hits(layer: RulesLayer, codebook, texts):
    """The rules semantics written the slow, obvious way: token by token, text by text."""
    import re

    from forumscope.discourse.rules import entry_tokens, tokens

    entries = []
    for j, code in enumerate(codebook.codes):
        for e in sorted({entry_tokens(x) for items in code.lexicon.values() for x in items}):
            entries.append((e[0], e[1], j))
    out = np.zeros((len(texts), len(codebook.codes)), dtype=np.int64)
    for i, text in enumerate(texts):
        text = text.replace("\x00", " ").replace("\x01", " ")
        toks = tokens(text)
        for k in range(len(toks)):
            for etoks, star, j in entries:
                m = len(etoks)
                window = toks[k:k + m]
                if len(window) < m:
                    continue
                if star:
                    ok = window[:-1] == list(etoks[:-1]) and window[-1].startswith(etoks[-1])
                else:
                    ok = window == list(etoks)
                out[i, j] += ok
        for j, code in enumerate(codebook.codes):
            pats = [p for items in code.patterns.values() for p in items]
            if pats:
                rx = re.compile("|".join(f"(?:{p})" for p in pats), re.I | re.M)
                out[i, j] += sum(1 for m in rx.finditer(text) if m.end() > m.start())
            vetoes = [p for items in code.exclude_patterns.values() for p in items]
            if vetoes and out[i, j]:
                rx = re.compile("|".join(f"(?:{p})" for p in vetoes), re.I | re.M)
                if rx.search(text):
                    out[i, j] = 0
    return out


@pytest.mark.parametrize("name", ["operating-model", "advice"])
def test_rules_batch_matching_equals_the_obvious_reading(name):
    """The one-pass automaton over a joined batch counts exactly what a text-by-text reading counts."""
    import random

    cb = load_codebook(name)
    words = [w for code in cb.codes for items in code.lexicon.values() for x in items for w in x.split()]
    words += ["the", "a", "quitting", "stop", "?", "!", ",", "don\u2019t", "here", "\n", "\n\n", "\x00", "[req]",
              "req:", "  ", "\u00c9t\u00e9", "\u0130stanbul", "\x01"]
    rnd = random.Random(7)
    texts = ["".join(rnd.choice(words) + rnd.choice(["", " ", " ", "\n", ". "]) for _ in range(rnd.randint(0, 30)))
             for _ in range(800)] + ["", "\x00", "\n\x00\n"]
    layer = RulesLayer()
    layer.fit(cb)
    got = layer.hits(texts)
    assert got.sum() > 500  # the texts do carry lexicon matches
    assert np.array_equal(got, _reference_hits(layer, cb, texts))
    # the same texts one by one (a batch of one) give the same rows
    assert np.array_equal(np.vstack([layer.hits([t]) for t in texts[:100]]), got[:100])


def test_word_ngram_counts_hand_counted():
    from forumscope.discourse.fast import word_ngram_counts

    X = word_ngram_counts(["Go now? go", "GO   now ?go", "", None, "caf\u00e9_2 na\u00efve-ish!!"], 20).toarray()
    # "go now ? go": start + 4 words + 4 pairs (start-go, go-now, now-?, ?-go) = 9 counts, "go" twice
    assert X[0].sum() == 9 and X[0].max() == 2 and (X[0] > 0).sum() == 8
    assert np.array_equal(X[0], X[1])                 # case and spacing do not matter
    assert X[2].sum() == 1 and np.array_equal(X[2], X[3])  # empty text and no text: the start token only
    # "café_2", "naïve", "ish", "!", "!": start + 5 words + 5 pairs
    assert X[4].sum() == 11
    # a text's row does not depend on the batch it is in
    alone = word_ngram_counts(["caf\u00e9_2 na\u00efve-ish!!"], 20).toarray()
    assert np.array_equal(alone[0], X[4])


def test_language_cleaning_fast_path_equals_the_regex():
    import random

    from forumscope.discourse.language import _NOISE, _clean

    rnd = random.Random(1)
    parts = ["a", "b ", "  ", "\t", "\n", "\u00a0", "\u2003", "http://x.y/z", "www.q.org", "@bob", "e-mail@x",
             "word", ".", "\r\n", "\x0b", "\x1c", "\u200b"]
    for _ in range(5000):
        t = "".join(rnd.choice(parts) for _ in range(rnd.randint(0, 12)))
        assert _clean(t) == _NOISE.sub(" ", t).strip(), repr(t)


def _awkward_texts(n: int, seed: int) -> list[str]:
    """Random texts made of the pieces that make sentence and token boundaries hard."""
    import random

    pieces = ["I want to stop", "quitting", "uploaded", "don\u2019t", "here you go", "[req]", "req:", "e.g.", "Dr.",
              "z.B.", "\u00c9t\u00e9", "\u0130stanbul", "\u03a3\u039f\u03a3", "\u041f\u0440\u0438\u0432\u0435\u0442",
              "\u4f60\u597d", "caf\u00e9_2", "na\u00efve-ish", "http://x.y/z", "@bob", "a", "the", ".", "!", "?", "?!",
              "\u2026", '"', "'", ")", "]", "(", "\x00", "\x01", " ", " ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u2003",
              "\r\n", ". ", '." ', ".) ", "!\" ", "?\n", "ok"]
    rnd = random.Random(seed)
    texts = ["".join(rnd.choice(pieces) + rnd.choice(["", " ", " ", "\n"]) for _ in range(rnd.randint(0, 60)))
             for _ in range(n)]
    return texts + ["", " ", "\n\n", "\x00", "\x01", ".", '"."', "x " * 300 + ". " * 250]


def test_a_batch_tokenised_once_scores_as_posts_and_sentences_scored_apart():
    """Posts and sentences from one tokenisation (TextBatch, score_batch) equal each scored alone:
    a post's words and tokens are exactly its sentences'."""
    from forumscope.discourse.batch import TextBatch
    from forumscope.discourse.fast import word_hashes
    from forumscope.discourse.rules import TOKEN, normalise

    texts = _awkward_texts(1500, 11)
    batch = TextBatch(texts)
    assert len(batch.sentences) > 2 * len(texts) and batch.owner.tolist() == sorted(batch.owner.tolist())
    for i, t in enumerate(texts):
        mine = [s for s, o in zip(batch.sentences, batch.owner) if o == i]
        assert TOKEN.findall(normalise(t)) == [x for s in mine for x in TOKEN.findall(normalise(s))], repr(t)
    owner, h = word_hashes(texts)
    assert np.array_equal(batch.post_words()[0], owner) and np.array_equal(batch.post_words()[1], h)

    for name in ("operating-model", "advice"):
        rules = RulesLayer()
        rules.fit(load_codebook(name))
        posts, sentences = rules.hits_batch(batch)
        assert posts.sum() > 300 and sentences.sum() > 300
        assert np.array_equal(posts, rules.hits(texts))
        assert np.array_equal(sentences, rules.hits(batch.sentences))
    cb = load_codebook("operating-model")
    fast = FastLayer(teacher="none")
    fast.fit(cb)
    posts, sentences = fast.score_batch(batch)
    assert np.allclose(posts, fast.score(texts)) and np.allclose(sentences, fast.score(batch.sentences))
    # with sentence context the batch's sentences are scored with their neighbours in the post
    ctx = FastLayer(teacher="none", context=True)
    ctx.fit(cb)
    posts, sentences = ctx.score_batch(batch)
    assert np.allclose(posts, ctx.score(texts)) and np.allclose(sentences, ctx.score(batch.sentences, groups=batch.owner))
    assert not np.allclose(sentences, ctx.score(batch.sentences))
    # a batch without sentence level hashes its posts
    flat = TextBatch(texts, sentence_level=False)
    assert flat.sentences == [] and np.array_equal(flat.post_words()[1], h)


def test_fast_context_features_hand_computed():
    """Row = [own, 0.3 * previous in the group, 0.3 * next in the group, first, last]."""
    import scipy.sparse as sp

    from forumscope.discourse.fast import CONTEXT_WEIGHT, with_context

    X = sp.csr_matrix(np.array([[1, 0], [0, 2], [3, 0], [0, 4]], np.float32))
    C = with_context(X, ["a", "a", "a", "b"]).toarray()
    w = CONTEXT_WEIGHT
    assert C.shape == (4, 8)
    assert C[1].tolist() == pytest.approx([0, 2, 1 * w, 0, 3 * w, 0, 0, 0])   # middle of a group of three
    assert C[0].tolist() == pytest.approx([1, 0, 0, 0, 0, 2 * w, 1, 0])       # first: no previous
    assert C[2].tolist() == pytest.approx([3, 0, 0, 2 * w, 0, 0, 0, 1])       # last: no next
    assert C[3].tolist() == pytest.approx([0, 4, 0, 0, 0, 0, 1, 1])           # alone
    assert np.array_equal(with_context(X, None).toarray()[:, 6:], np.ones((4, 2)))  # no groups: all alone
