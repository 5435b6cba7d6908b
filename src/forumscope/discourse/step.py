"""The discourse step: tag posts and sentences with a codebook's codes, layer by layer, and aggregate.

Posts are streamed from the case in Arrow batches (``batch_size`` posts at a time; texts are never
all in memory). For each batch: the language of each post (lingua, restricted to ``languages``),
the scores of every layer for each post and, with ``sentence_level``, for each sentence; positive
tags (score >= the layer's threshold) are kept. With two or more layers a ``combined`` layer is
added (``combine``: ``any`` = a code is tagged when any layer tags it, ``all`` = when all do,
``mean`` = when the mean of the layers' rescaled scores passes 0.5). Aggregates are computed in
DuckDB from the tags: prevalence per forum, board, month, language and member; co-occurrence of
codes; the codes of replies to help-seeking posts. See docs/analyses/discourse.md.

Example::

    from forumscope.pipeline.runner import run_steps
    run_steps(case, ["discourse"], {"discourse": {"codebook": "operating-model", "layers": ("rules", "fast")}})
    case.sql("SELECT code, share FROM discourse_prevalence WHERE dimension = 'all' AND layer = 'combined'")
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pyarrow as pa

from forumscope.discourse.codebook import load_codebook
from forumscope.discourse.language import DEFAULT_LANGUAGES, DistilledLanguageIdentifier, LanguageIdentifier
from forumscope.discourse.layers import LAYER_NAMES, make_layer
from forumscope.discourse.scoring import BatchScorer, combine_scores, rescale, score_batches
from forumscope.errors import ConfigError
from forumscope.pipeline.step import Param, Step, StepContext
from forumscope.store.sql import sql_str

__all__ = ["DiscourseStep", "combine_scores", "rescale"]

COMBINE = ("any", "all", "mean")
S, I, F = pa.string(), pa.int64(), pa.float64()
D = pa.dictionary(pa.int32(), pa.string())
TAGS = pa.schema([("forum_id", D), ("post_id", S), ("sentence_no", pa.int32()), ("codebook", D), ("code", D),
                  ("layer", D), ("score", F)])
# the dimensions of prevalence: name, and the column of _dsc_scored that gives the key
DIMENSIONS = (("all", "'all'"), ("board", "board_id"), ("month", "month"), ("language", "language"),
              ("member", "author_id"))
LANGS = pa.schema([("forum_id", D), ("post_id", S), ("language", D), ("confidence", F), ("method", D)])
LAYERS_SCHEMA = pa.schema([("codebook", S), ("codebook_version", S), ("layer", S), ("model", S), ("threshold", F),
                           ("posts_scored", I), ("sentences_scored", I), ("seconds", F), ("untrained_codes", S)])


def _per_dimension(source: str, counts: str) -> str:
    """SQL: ``counts`` per forum and key of each of the DIMENSIONS, from ``source`` (one union)."""
    return " UNION ALL ".join(f"SELECT forum_id, {sql_str(dim)} AS dimension, {key} AS key, {counts} "
                              f"FROM {source} GROUP BY ALL" for dim, key in DIMENSIONS)


def _auto_jobs() -> int:
    """Worker processes when ``jobs`` is 0: the CPU cores, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


def _check_layers(v: tuple) -> bool:
    return bool(v) and all(x in LAYER_NAMES for x in v) and len(set(v)) == len(v)


class DiscourseStep(Step):
    name = "discourse"
    description = ("Discourse mechanisms: posts and sentences tagged with a codebook's codes by rules, a fast "
                   "hashed n-gram model, MiniLM embeddings or a supervised model; languages; prevalence, "
                   "co-occurrence and the answers to help-seeking posts.")
    inputs = ("posts", "threads", "interactions")
    outputs = {
        "discourse_tags": "Positive tags per post (sentence_no NULL) and sentence: codebook, code, layer, score.",
        "discourse_languages": "Detected language per post (ISO 639-1 or unknown) with lingua's confidence.",
        "discourse_prevalence": "Share of posts carrying each code, overall and per board, month, language and "
                                "member, with the denominators.",
        "discourse_cooccurrence": "Posts carrying two codes, each code, and the lift of the pair.",
        "discourse_help_responses": "The codes of replies to help-seeking posts, with the number of help posts "
                                    "answered.",
        "discourse_layers": "What each layer was: model, threshold, posts and sentences scored, seconds.",
    }
    params = (
        Param("codebook", str, "operating-model", "Shipped codebook id or path of a codebook YAML file."),
        Param("layers", tuple, ("rules", "fast"), "Layers to run: rules, fast, embedding, supervised.",
              _check_layers, f"a non-empty list of distinct layers from {', '.join(LAYER_NAMES)}"),
        Param("threshold", float, None, "Threshold for every layer (default: each layer's own, 0.5).",
              lambda v: 0 < v < 1, "between 0 and 1"),
        Param("combine", str, "any", "How the combined layer joins the layers: any, all or mean.",
              lambda v: v in COMBINE, "any, all or mean"),
        Param("sentence_level", bool, True, "Also tag each sentence (sentence_no 0, 1, ...)."),
        Param("languages", tuple, DEFAULT_LANGUAGES, "Languages lingua chooses from (ISO 639-1).",
              lambda v: len(v) > 0, "at least one language"),
        Param("language_min_chars", int, 20, "Posts shorter than this (characters) get language unknown.",
              lambda v: v >= 0, "at least 0"),
        Param("language_accuracy", str, "auto", "lingua's mode: high (slower, better on short text), low "
              "(about 2.5x faster), distilled (lingua, high accuracy, on a sample of language_sample posts, "
              "learnt by a naive Bayes model on words that answers where it is sure; lingua for the rest; "
              "about 10x faster than low), or auto: high up to language_high_max posts, distilled above.",
              lambda v: v in ("auto", "high", "low", "distilled"), "auto, high, low or distilled"),
        Param("language_high_max", int, 200_000, "With language_accuracy=auto: the largest forum (posts) "
              "identified by lingua alone in high-accuracy mode.", lambda v: v >= 0, "at least 0"),
        Param("language_sample", int, 50_000, "With distilled language identification: posts lingua labels "
              "for the model (a fifth held out to check it).", lambda v: v >= 500, "at least 500"),
        Param("batch_size", int, 5000, "Posts per Arrow batch.", lambda v: v >= 1, "at least 1"),
        Param("fast_teacher", str, "rules", "What the fast layer learns from on this case: rules, embedding "
              "(MiniLM) or none (codebook examples only).", lambda v: v in ("rules", "embedding", "none"),
              "rules, embedding or none"),
        Param("fast_context", bool, False, "Fast layer: also read each sentence's neighbours in its post (their "
              "n-grams at weight 0.3, first/last flags); helps a layer trained on human-coded sentences, little "
              "when the teacher (rules) labels each text alone."),
        Param("fast_sample", int, 20000, "Posts sampled for the fast layer's training.", lambda v: v >= 0,
              "at least 0"),
        Param("embedding_mode", str, "similarity", "Embedding layer: similarity (to definitions and examples) or "
              "head (logistic head on the codebook's examples).", lambda v: v in ("similarity", "head"),
              "similarity or head"),
        Param("embedding_batch_size", int, 128, "Texts per MiniLM batch.", lambda v: v >= 1, "at least 1"),
        Param("device", str, "auto", "MiniLM device: auto (GPU when torch sees one), cpu, cuda."),
        Param("supervised_backend", str, "tfidf", "Supervised layer: tfidf (TF-IDF n-grams + logistic "
              "regression) or minilm (MiniLM fine-tuned on the human codes; needs the nlp extra; GPU when "
              "torch sees one, else minutes on the CPU).", lambda v: v in ("tfidf", "minilm"), "tfidf or minilm"),
        Param("seed", int, 0, "Seed for the training sample."),
        Param("jobs", int, 0, "Worker processes that score batches; 0 = automatic (the CPU cores, at most 4, "
              "when the forum has more than two batches and no layer uses torch), 1 = in this process.",
              lambda v: v >= 0, "at least 0"),
    )

    # ------------------------------------------------------------------ layers
    def _layers(self, ctx: StepContext, codebook: Any) -> list[tuple[Any, float]]:
        out = []
        for name in self.layers:
            opts: dict[str, Any] = {}
            if self.threshold is not None:
                opts["threshold"] = self.threshold
            if name == "rules":
                opts["languages"] = None
            elif name == "fast":
                opts.update(teacher=self.fast_teacher, sample=self.fast_sample, seed=self.seed,
                            forum_id=ctx.forum_id, context=self.fast_context)
                if self.fast_teacher == "embedding":
                    opts["teacher_options"] = {"mode": self.embedding_mode, "batch_size": self.embedding_batch_size,
                                               "device": self.device}
            elif name == "embedding":
                opts.update(mode=self.embedding_mode, batch_size=self.embedding_batch_size, device=self.device)
            elif name == "supervised":
                self._check_human_codes(ctx, codebook)
                opts.update(forum_id=ctx.forum_id, backend=self.supervised_backend)
                if self.supervised_backend == "minilm":
                    opts.update(device=self.device, progress=lambda f, m: ctx.progress(
                        f"discourse: fine-tuning MiniLM on the human codes: {m}", 0.0))
            layer = make_layer(name, **opts)
            t0 = time.perf_counter()
            try:
                layer.fit(codebook, ctx.case)
            except ConfigError:
                raise
            except Exception as exc:  # the supervised layer's own errors, a model that does not load
                msg = exc.one_line() if hasattr(exc, "one_line") else f"{type(exc).__name__}: {exc}"
                raise ConfigError(f"layer {name} could not be prepared: {msg}") from exc
            out.append((layer, time.perf_counter() - t0))
        return out

    def _language_identifier(self, ctx: StepContext, total: int, where: str
                             ) -> tuple[LanguageIdentifier | DistilledLanguageIdentifier, float]:
        """lingua alone, or lingua distilled on a sample of the forum's posts (with the seconds that took)."""
        mode = self.language_accuracy
        if mode == "auto":
            mode = "high" if total <= self.language_high_max else "distilled"
        # distilled: lingua's low-accuracy mode answers the posts the word model hands back
        base = LanguageIdentifier(self.languages, min_chars=self.language_min_chars,
                                  low_accuracy=mode in ("low", "distilled"))
        if mode != "distilled":
            return base, 0.0
        ctx.progress(f"discourse: lingua on a sample of {self.language_sample:,} posts for the language model", 0.0)
        t0 = time.perf_counter()
        rows = ctx.con.execute(f"SELECT text FROM posts WHERE {where} ORDER BY hash(forum_id || id || ?::VARCHAR) "
                               f"LIMIT {int(self.language_sample)}", [f"language-{self.seed}"]).fetchall()
        workers = self.jobs or _auto_jobs()  # processes that label the sample
        ident = DistilledLanguageIdentifier(base, workers=workers).fit([r[0] for r in rows])
        return ident, time.perf_counter() - t0

    def _check_human_codes(self, ctx: StepContext, codebook: Any) -> None:
        try:
            import forumscope.discourse.supervised  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"the supervised layer is not available in this installation ({exc})") from None
        exists = ctx.con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'human_codes'"
                                 ).fetchall()[0][0]
        n = 0
        if exists:
            n = ctx.con.execute("SELECT count(*) FROM human_codes WHERE codebook = ?", [codebook.id]).fetchall()[0][0]
        if not n:
            raise ConfigError(f"the supervised layer needs human codes for codebook {codebook.id!r} and this case "
                              "has none; code a sample first (forumscope coding export / coding import)")

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: StepContext) -> dict[str, Any]:
        codebook = load_codebook(self.codebook)
        codes = codebook.code_ids
        post_only = np.array([c.level == "post" for c in codebook.codes])
        ctx.progress("discourse: preparing layers", 0.0)
        layers = self._layers(ctx, codebook)
        names = [layer.name for layer, _ in layers]
        thresholds = [layer.threshold for layer, _ in layers]
        seconds = [fit_s for _, fit_s in layers]
        combined = len(layers) > 1
        if combined:
            names.append("combined")
            thresholds.append(0.5)
            seconds.append(0.0)
        where = "text IS NOT NULL AND length(trim(text)) > 0"
        if ctx.forum_id is not None:
            where += f" AND forum_id = {sql_str(ctx.forum_id)}"
        total = ctx.con.execute(f"SELECT count(*) FROM posts WHERE {where}").fetchall()[0][0]
        ident, language_fit_s = self._language_identifier(ctx, total, where)
        cb_dict = pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), pa.array([codebook.id]))
        code_values = pa.array(codes)
        layer_values = pa.array(names)
        tag_parts: list[pa.Table] = []
        lang_parts: list[pa.Table] = []
        carried_parts: list[np.ndarray] = []  # (post number, layer, code) of the posts carrying a code
        n_posts = n_sents = 0
        language_seconds = language_fit_s
        scorer = BatchScorer([layer for layer, _ in layers], thresholds, ident, self.sentence_level, self.combine,
                             post_only)
        workers = self._workers(total, [layer for layer, _ in layers])
        cur = ctx.con.cursor()  # a second connection streams posts while the first stays free
        try:
            reader = cur.sql(f"SELECT forum_id, id, text FROM posts WHERE {where} ORDER BY forum_id, id"
                             ).to_arrow_reader(self.batch_size)

            def batches() -> Any:
                for batch in reader:
                    if batch.num_rows == 0:
                        continue
                    fids = batch.column(0) if pa.types.is_dictionary(batch.column(0).type) else \
                        batch.column(0).dictionary_encode()
                    yield fids, batch.column(1).cast(S), [t or "" for t in batch.column(2).to_pylist()]

            width = len(names) * len(codes)
            for fids, pids, scored in score_batches(scorer, batches(), workers):
                lang_parts.append(pa.table([fids, pids, pa.array(scored.languages).dictionary_encode(),
                                            pa.array(scored.confidence),
                                            pa.array(scored.methods, pa.string()).dictionary_encode()], schema=LANGS))
                language_seconds += scored.language_seconds
                keys = []
                for li, post_idx, sno, cols, values in scored.tags:
                    tag_parts.append(self._tags(fids, pids, post_idx, sno, cols, values, li, cb_dict, code_values,
                                                layer_values))
                    keys.append((n_posts + post_idx) * width + li * len(codes) + cols)
                if keys:  # a post's tags all come in its batch: distinct here is distinct overall
                    carried_parts.append(np.unique(np.concatenate(keys)))
                for li, sec in enumerate(scored.seconds):
                    seconds[li] += sec
                n_posts += len(pids)
                n_sents += scored.sentences
                ctx.progress(f"discourse: {n_posts:,} of {total:,} posts tagged", n_posts / max(total, 1))
        finally:
            cur.close()

        tags = pa.concat_tables(tag_parts) if tag_parts else TAGS.empty_table()
        langs_t = pa.concat_tables(lang_parts) if lang_parts else LANGS.empty_table()
        ctx.progress("discourse: aggregates", 1.0)
        keys = np.concatenate(carried_parts) if carried_parts else np.zeros(0, np.int64)
        carried = pa.table({"pno": keys // width, "li": (keys % width // len(codes)).astype(np.int32),
                            "ci": (keys % len(codes)).astype(np.int32)})
        del carried_parts, keys
        scored_t = langs_t.select(["forum_id", "post_id", "language"]).append_column(
            "pno", pa.array(np.arange(n_posts, dtype=np.int64)))
        aggregates = self._aggregates(ctx, codebook, names, carried, scored_t)
        del carried, scored_t
        untrained = [", ".join(getattr(layer, "untrained", []) or []) or None for layer, _ in layers]
        if combined:
            untrained.append(None)
        # the last row is language identification (its model, and its seconds summed over workers)
        names.append("language")
        thresholds.append(None)
        seconds.append(language_seconds)
        untrained.append(None)
        models = [getattr(layer, "model", None) for layer, _ in layers] + (
            [f"combine={self.combine} of {', '.join(names[:len(layers)])}"] if combined else []) + [ident.describe()]
        layer_rows = pa.table({
            "codebook": [codebook.id] * len(names), "codebook_version": [codebook.version] * len(names),
            "layer": names, "model": models, "threshold": thresholds, "posts_scored": [n_posts] * len(names),
            "sentences_scored": [n_sents] * (len(names) - 1) + [0], "seconds": seconds, "untrained_codes": untrained,
        }, schema=LAYERS_SCHEMA)
        return {"discourse_tags": tags, "discourse_languages": langs_t, **aggregates, "discourse_layers": layer_rows}

    @staticmethod
    def _tags(fids: pa.Array, pids: pa.Array, post_idx: np.ndarray, sno: np.ndarray | None, cols: np.ndarray,
              values: np.ndarray, layer_index: int, cb_dict: pa.DictionaryArray, code_values: pa.Array,
              layer_values: pa.Array) -> pa.Table:
        take = pa.array(post_idx, pa.int64())
        n = len(post_idx)
        return pa.table([
            fids.take(take),
            pids.take(take),
            pa.nulls(n, pa.int32()) if sno is None else pa.array(sno, pa.int32()),
            pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), cb_dict.dictionary),
            pa.DictionaryArray.from_arrays(pa.array(cols.astype(np.int32)), code_values),
            pa.DictionaryArray.from_arrays(pa.array(np.full(n, layer_index, np.int32)), layer_values),
            pa.array(values, F),
        ], schema=TAGS)

    def _workers(self, total: int, layers: list[Any]) -> int:
        """Worker processes for scoring: ``jobs``, or automatic (see the ``jobs`` parameter). A layer
        that runs torch (``fork_safe = False``) keeps scoring in this process: torch and a GPU do not
        survive a fork."""
        import multiprocessing

        if "fork" not in multiprocessing.get_all_start_methods():
            return 1
        if "embedding" in self.layers or self.fast_teacher == "embedding" and "fast" in self.layers or \
                not all(getattr(layer, "fork_safe", True) for layer in layers):
            return 1
        if self.jobs:
            return self.jobs
        if total <= 2 * self.batch_size:
            return 1
        return _auto_jobs()

    # ------------------------------------------------------------------ aggregates
    def _aggregates(self, ctx: StepContext, codebook: Any, names: list[str], carried: pa.Table,
                    scored: pa.Table) -> dict[str, Any]:
        """Prevalence, co-occurrence and help responses from ``carried`` (post number ``pno``, layer
        index ``li``, code index ``ci``: each post that carries a code, at post or sentence level, once)
        and ``scored`` (each scored post: ``pno``, forum, id, language; its board, month and author are
        joined from the posts once). Tags and posts are joined on the post number, codes and layers by
        index; names come in at the end."""
        con = ctx.con
        cb = sql_str(codebook.id)
        codes = codebook.code_ids
        rank = {c: r for r, c in enumerate(sorted(codes))}  # the order of the names (co-occurrence pairs)
        con.register("_dsc_carried", carried)
        con.register("_dsc_scored_in", scored)
        con.register("_dsc_layer_names", pa.table({"li": pa.array(range(len(names)), pa.int32()), "layer": names}))
        con.register("_dsc_code_names", pa.table({"ci": pa.array(range(len(codes)), pa.int32()), "code": codes,
                                                  "cr": [rank[c] for c in codes]}))
        try:
            con.execute("""
                CREATE OR REPLACE TEMP TABLE _dsc_scored AS
                SELECT l.pno, l.forum_id::VARCHAR AS forum_id, l.post_id, l.language::VARCHAR AS language,
                       coalesce(p.board_id, '(none)') AS board_id,
                       coalesce(strftime(p.created_at, '%Y-%m'), '(none)') AS month,
                       coalesce(p.author_id, '(guest)') AS author_id
                FROM _dsc_scored_in l JOIN posts p ON p.forum_id = l.forum_id::VARCHAR AND p.id = l.post_id""")
            # tags joined to their posts once, then counted per dimension
            prevalence = con.sql(f"""
                WITH t AS (SELECT c.li, c.ci, s.* FROM _dsc_carried c JOIN _dsc_scored s USING (pno)),
                num AS ({_per_dimension("t", "li, ci, count(*) AS tagged_posts")}),
                denom AS ({_per_dimension("_dsc_scored", "count(*) AS posts")}),
                rows AS (  -- every layer and code for forums, boards, months, languages; members with a tag
                    SELECT de.forum_id, g.layer, cg.code, de.dimension, de.key, de.posts,
                           coalesce(n.tagged_posts, 0) AS tagged_posts
                    FROM denom de CROSS JOIN _dsc_layer_names g CROSS JOIN _dsc_code_names cg
                    LEFT JOIN num n ON n.forum_id = de.forum_id AND n.dimension = de.dimension AND n.key = de.key
                                   AND n.li = g.li AND n.ci = cg.ci
                    WHERE de.dimension <> 'member'
                    UNION ALL
                    SELECT n.forum_id, g.layer, cg.code, n.dimension, n.key, de.posts, n.tagged_posts
                    FROM num n JOIN denom de USING (forum_id, dimension, key)
                    JOIN _dsc_layer_names g USING (li) JOIN _dsc_code_names cg USING (ci)
                    WHERE n.dimension = 'member')
                SELECT forum_id, {cb} AS codebook, layer, code, dimension, key, posts, tagged_posts,
                       tagged_posts / posts AS share
                FROM rows ORDER BY forum_id, layer, code, dimension, key""").to_arrow_table()
            cooccurrence = con.sql(f"""
                WITH t AS (SELECT c.pno, c.li, c.ci, n.cr, s.forum_id FROM _dsc_carried c
                           JOIN _dsc_code_names n USING (ci) JOIN _dsc_scored s USING (pno)),
                n AS (SELECT forum_id, count(*) AS posts FROM _dsc_scored GROUP BY 1),
                cnt AS (SELECT forum_id, li, ci, count(*) AS posts FROM t GROUP BY ALL),
                pair AS (SELECT a.forum_id, a.li, a.ci AS ci_a, b.ci AS ci_b, count(*) AS posts_both
                         FROM t a JOIN t b ON a.pno = b.pno AND a.li = b.li AND a.cr < b.cr GROUP BY ALL),
                named AS (SELECT cnt.*, g.layer, cg.code, cg.cr FROM cnt JOIN _dsc_layer_names g USING (li)
                          JOIN _dsc_code_names cg USING (ci))
                SELECT a.forum_id, {cb} AS codebook, a.layer, a.code AS code_a, b.code AS code_b,
                       coalesce(p.posts_both, 0) AS posts_both, a.posts AS posts_a, b.posts AS posts_b,
                       n.posts AS posts, coalesce(p.posts_both, 0) * n.posts / (a.posts * b.posts) AS lift
                FROM named a JOIN named b ON a.forum_id = b.forum_id AND a.li = b.li AND a.cr < b.cr
                JOIN n ON n.forum_id = a.forum_id
                LEFT JOIN pair p ON p.forum_id = a.forum_id AND p.li = a.li AND p.ci_a = a.ci AND p.ci_b = b.ci
                ORDER BY 1, 3, 4, 5""").to_arrow_table()
            help_responses = self._help_responses(ctx, codebook, cb)
        finally:
            con.execute("DROP TABLE IF EXISTS _dsc_scored")
            for t in ("_dsc_carried", "_dsc_scored_in", "_dsc_layer_names", "_dsc_code_names"):
                con.unregister(t)
        return {"discourse_prevalence": prevalence, "discourse_cooccurrence": cooccurrence,
                "discourse_help_responses": help_responses}

    def _help_responses(self, ctx: StepContext, codebook: Any, cb: str) -> pa.Table:
        schema = pa.schema([("forum_id", S), ("codebook", S), ("layer", S), ("reply_code", S), ("replies", I),
                            ("help_posts", I), ("help_posts_answered", I), ("all_replies", I), ("share", F)])
        help_code = codebook.help_seeking_code
        if help_code is None:
            return schema.empty_table()
        forum = "TRUE" if ctx.forum_id is None else f"forum_id = {sql_str(ctx.forum_id)}"
        t = ctx.con.sql(f"""
            WITH help AS (SELECT s.forum_id, s.post_id, c.li FROM _dsc_carried c JOIN _dsc_scored s USING (pno)
                          WHERE c.ci = {codebook.code_ids.index(help_code)}),
            targets AS (SELECT DISTINCT forum_id, post_id FROM help),
            replied AS (
                SELECT forum_id, post_id AS reply_id, target_post_id AS parent_id FROM interactions
                WHERE kind = 'reply' AND post_id IS NOT NULL AND target_post_id IS NOT NULL AND {forum}),
            links AS (  -- only the links to help posts are needed
                SELECT DISTINCT r.* FROM replied r
                SEMI JOIN targets t ON t.forum_id = r.forum_id AND t.post_id = r.parent_id),
            openers AS (
                SELECT forum_id, thread_id, id FROM posts WHERE position = 0 AND thread_id IS NOT NULL AND {forum}
                UNION SELECT forum_id, id, first_post_id FROM threads WHERE first_post_id IS NOT NULL AND {forum}),
            help_openers AS (
                SELECT o.* FROM openers o SEMI JOIN targets t ON t.forum_id = o.forum_id AND t.post_id = o.id),
            flat AS (  -- posts without a reply link (to any post) answer their thread's opening post
                SELECT q.forum_id, q.id AS reply_id, o.id AS parent_id
                FROM posts q JOIN help_openers o ON o.forum_id = q.forum_id AND o.thread_id = q.thread_id
                WHERE q.id <> o.id AND {forum.replace('forum_id', 'q.forum_id')}
                  AND NOT EXISTS (SELECT 1 FROM replied l WHERE l.forum_id = q.forum_id AND l.reply_id = q.id)),
            all_links AS (SELECT * FROM links UNION SELECT * FROM flat),
            hr AS (  -- scored replies to help posts, per layer
                SELECT h.forum_id, h.li, h.post_id AS help_id, a.reply_id, s.pno AS reply_pno
                FROM help h JOIN all_links a ON a.forum_id = h.forum_id AND a.parent_id = h.post_id
                JOIN _dsc_scored s ON s.forum_id = a.forum_id AND s.post_id = a.reply_id
                WHERE a.reply_id <> h.post_id),
            hp AS (SELECT forum_id, li, count(*) AS help_posts FROM help GROUP BY ALL),
            answered AS (SELECT forum_id, li, count(DISTINCT help_id) AS answered,
                                count(DISTINCT reply_id) AS all_replies FROM hr GROUP BY ALL),
            coded AS (SELECT DISTINCT hr.forum_id, hr.li, hr.reply_id, c.ci FROM hr
                      LEFT JOIN _dsc_carried c ON c.pno = hr.reply_pno AND c.li = hr.li),
            by_code AS (SELECT c.forum_id, c.li, coalesce(n.code, 'none') AS reply_code,
                               count(DISTINCT c.reply_id) AS replies
                        FROM coded c LEFT JOIN _dsc_code_names n USING (ci) GROUP BY ALL),
            forums AS (SELECT DISTINCT forum_id FROM _dsc_scored),
            cg AS (SELECT code AS reply_code FROM _dsc_code_names UNION ALL SELECT 'none')
            SELECT f.forum_id, {cb} AS codebook, g.layer, cg.reply_code, coalesce(b.replies, 0) AS replies,
                   coalesce(hp.help_posts, 0) AS help_posts, coalesce(an.answered, 0) AS help_posts_answered,
                   coalesce(an.all_replies, 0) AS all_replies,
                   CASE WHEN coalesce(an.all_replies, 0) > 0 THEN coalesce(b.replies, 0) / an.all_replies END AS share
            FROM forums f CROSS JOIN _dsc_layer_names g CROSS JOIN cg
            LEFT JOIN by_code b ON b.forum_id = f.forum_id AND b.li = g.li AND b.reply_code = cg.reply_code
            LEFT JOIN hp ON hp.forum_id = f.forum_id AND hp.li = g.li
            LEFT JOIN answered an ON an.forum_id = f.forum_id AND an.li = g.li
            ORDER BY 1, 3, 4""").to_arrow_table()
        return t.cast(schema)
