"""Alias linking: ranked candidate accounts of the same person, within a case and across cases.

Alias links are investigative **leads** (SAFETY.md): every account gets a ranked list of
candidates, each with a calibrated score in 0..1 and the evidence behind it (the similarity of
every feature family and how unusual it is among random pairs of accounts). There is never a
single "match" field. See docs/analyses/aliases.md for the method, the calibration and the limits.

How it works, in short:

1. Accounts with at least ``min_posts`` posts and ``min_words`` words are profiled; the others
   are listed as ``too_thin`` and never linked.
2. Per account, DuckDB aggregates a capped, deterministic sample of its posts (``max_posts``
   posts chosen by a hash of the post id, at most ``max_chars`` characters) and streams it in
   batches; SQL computes the hour-of-week rhythm.
3. Five feature families (:mod:`forumscope.analyze.style`): character n-grams and vocabulary
   (TF-IDF, reduced by truncated SVD fitted on a random sample of accounts), function words,
   punctuation/formatting habits (standardised) and rhythm. Each is a unit vector per account,
   centred on the sample mean, so a family's similarity is a cosine.
4. Each family's similarity is turned into a z-score against random pairs of accounts of the
   same run; the calibrated score is a logistic function of the z-scores, of both accounts'
   hubness and of how far the candidate stands out (margins), with fixed shipped coefficients
   (:data:`CALIBRATION`, fitted on synthetic alias pairs and IRC split halves, never on
   evaluation data).
5. The linear part of that score is a weighted sum of the family cosines, so the weighted
   concatenation of the family vectors has dot products that rank pairs like it; nearest
   neighbours of that vector (exact below ``exact_max`` accounts, k-means blocking above) give
   ``pool`` candidates per account, which are re-scored and cut to ``top``.

Example (a tiny forum; real use needs far more text)::

    >>> from forumscope.analyze.aliases import find_aliases
    >>> res = find_aliases("my-case", top=5)            # doctest: +SKIP
    >>> res.candidates.column_names[:6]                 # doctest: +SKIP
    ['forum_id', 'user_id', 'rank', 'candidate_case', 'candidate_forum_id', 'candidate_user_id']
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from forumscope.analyze import style
from forumscope.errors import UsageError
from forumscope.pipeline.step import Param, Step, StepContext
from forumscope.store.sql import main_language_sql

FAMILIES = ("char", "words", "function_words", "punctuation", "rhythm")
FAMILY_DOC = {
    "char": "character (byte) 2-4-grams, TF-IDF, truncated SVD",
    "words": "vocabulary: word unigrams, TF-IDF, truncated SVD",
    "function_words": "relative frequencies of the most frequent function words, standardised (cosine Delta)",
    "punctuation": "punctuation and formatting habits per post, standardised",
    "rhythm": "hour-of-week activity (UTC), square-root probabilities, centred",
}


@dataclass(frozen=True)
class Calibration:
    """Logistic calibration of a candidate pair (a, b):

    logit = intercept + s(a, b) + margin * m_a + margin_candidate * m_b + logit(prior) - logit(train_prior)
    s(a, b) = sum_f coef[f] * z_f + hub * (h_a + h_b)

    where z_f is family f's similarity standardised against random pairs of accounts of the same
    run, h_a the mean of a's ten best values of sum_f coef[f] * z_f (its "hubness": accounts
    that resemble everybody get less credit, as in CSLS, Conneau et al. 2018), m_a how far s(a, b)
    is ahead of a's best other candidate (negative when b is not a's best) and m_b the same from
    b's side (mutual nearest neighbours score higher). ``train_prior`` is
    the share of accounts that had an alias in the calibration data; ``prior`` (a parameter) the
    share assumed for the case at hand (a Bayes prior shift, Saerens et al. 2002)."""

    intercept: float
    coef: Mapping[str, float]
    hub: float
    margin: float
    margin_candidate: float
    train_prior: float
    fitted_on: str

    def linear(self, z: Mapping[str, np.ndarray], families: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(next(iter(z.values()))), dtype=np.float64)
        for f in families:
            out += self.coef[f] * z[f]
        return out

    def logit(self, lin: np.ndarray, hub_sum: np.ndarray, m_a: np.ndarray, m_b: np.ndarray,
              prior: float) -> np.ndarray:
        shift = _logit(prior) - _logit(self.train_prior)
        return (self.intercept + lin + self.hub * hub_sum + self.margin * m_a + self.margin_candidate * m_b
                + shift)


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


HUB_K = 10  # neighbours averaged for an account's hubness
SCORE_RANGE = (0.0001, 0.999)  # scores are clipped to this range (never 0 or 1)

# Fitted by `bench/aliases_bench.py calibrate` (docs/analyses/aliases.md, "Calibration"): synthetic
# forums (seeds 101, 102) and split halves of the #ubuntu IRC logs; never on evaluation data.
_FITTED_ON = "synthetic forums (seeds 101, 102) + #ubuntu IRC split halves, 2026-11-28"
CALIBRATION = Calibration(
    intercept=-4.7807,
    coef={"char": 0.591, "words": 0.1, "function_words": 0.1, "punctuation": 1.9114, "rhythm": 0.955},
    hub=-0.5594, margin=0.7496, margin_candidate=0.6849, train_prior=0.0998, fitted_on=_FITTED_ON,
)
# The same fit without the rhythm family (use_rhythm=False, or no timestamps).
CALIBRATION_NO_RHYTHM = Calibration(
    intercept=-4.8423,
    coef={"char": 0.8196, "words": 0.1, "function_words": 0.1, "punctuation": 1.6506, "rhythm": 0.0},
    hub=-0.4378, margin=0.6903, margin_candidate=0.5978, train_prior=0.0998, fitted_on=_FITTED_ON,
)

_ACC = "_fs_alias_accounts"
_POSTS = "_fs_alias_posts"


def _positive(v: Any) -> bool:
    return v > 0


def _non_negative(v: Any) -> bool:
    return v >= 0


PARAMS: tuple[Param, ...] = (
    Param("top", int, 10, "Candidates kept per account.", _positive, "must be > 0"),
    Param("min_posts", int, 25, "Accounts with fewer posts (with text) are too thin to link.", _non_negative,
          "must be >= 0"),
    Param("min_words", int, 250, "Accounts with fewer words are too thin to link.", _non_negative, "must be >= 0"),
    Param("max_posts", int, 400, "Posts per account used for the text features (a fixed sample by post-id "
          "hash).", _positive, "must be > 0"),
    Param("max_chars", int, 20000, "Characters of text per account used for n-grams and words.",
          lambda v: v >= 200, "must be >= 200"),
    Param("use_rhythm", bool, True, "Use the hour-of-week rhythm as a feature family."),
    Param("cross_forum_only", bool, False, "Within a case: propose only candidates from another forum."),
    Param("dims_char", int, 256, "SVD dimensions of the character n-gram family.", _positive, "must be > 0"),
    Param("dims_words", int, 128, "SVD dimensions of the vocabulary family.", _positive, "must be > 0"),
    Param("n_function_words", int, 150, "Most frequent function words used (Burrows' MFW).", _positive,
          "must be > 0"),
    Param("fit_sample", int, 4000, "Accounts (random) on which IDF, SVD and standardisation are fitted.",
          lambda v: v >= 10, "must be >= 10"),
    Param("pool", int, 40, "Nearest neighbours retrieved per account before re-scoring (>= top).", _positive,
          "must be > 0"),
    Param("exact_max", int, 12000, "Up to this many accounts, exact nearest neighbours; above it, k-means "
          "blocking (approximate).", _non_negative, "must be >= 0"),
    Param("nprobe", int, 8, "Blocking: clusters searched per account.", _positive, "must be > 0"),
    Param("prior", float, 0.02, "Assumed share of linked accounts that have another account among the "
          "candidates; shifts the calibrated scores (Bayes).", lambda v: 0 < v < 1, "must be in (0, 1)"),
    Param("seed", int, 0, "Random seed (fit sample, SVD, blocking, background pairs)."),
    Param("jobs", int, 0, "Worker processes that count text features; 0 = automatic (the CPU cores, at most "
          "4, when there is more than one chunk of text), 1 = in this process.", _non_negative, "must be >= 0"),
)


# ============================================================================ profiles
@dataclass
class _Source:
    case: Any
    label: str  # case name, shown as candidate_case
    forum_id: str | None


@dataclass
class Profiles:
    """Feature vectors of the eligible accounts of one or two sources (row i = account i)."""

    source: np.ndarray  # int8: 0 = case, 1 = other
    forum_id: np.ndarray  # object
    user_id: np.ndarray  # object
    n_posts: np.ndarray
    n_words: np.ndarray
    language: np.ndarray  # object (most frequent posts.language, may be None)
    vectors: dict[str, np.ndarray]  # family -> (N, d) float32 unit vectors (centred)
    overlap: np.ndarray | None  # (N, 168) sqrt-probabilities for the rhythm overlap (Bhattacharyya)
    thin: pa.Table  # accounts below the minimum text size
    eligible: pa.Table  # the profiled accounts with their sizes

    @property
    def n(self) -> int:
        return len(self.user_id)


def _words_sql(col: str) -> str:
    """Words of a post, approximately: spaces and line breaks + 1 (cheap at 10M posts)."""
    return f"(1 + 2 * length({col}) - length(replace({col}, ' ', '')) - length(replace({col}, chr(10), '')))"


def _accounts(src: _Source, p: Any) -> pa.Table:
    where = "author_id IS NOT NULL AND text IS NOT NULL AND length(trim(text)) > 0"
    params: list[Any] = []
    if src.forum_id is not None:
        where += " AND forum_id = ?"
        params.append(src.forum_id)
    return src.case.sql(
        f"SELECT a.forum_id, a.author_id AS user_id, a.n_posts, a.n_words, l.language FROM "
        f"(SELECT forum_id, author_id, count(*) AS n_posts, CAST(sum({_words_sql('text')}) AS BIGINT) AS n_words "
        f" FROM posts WHERE {where} GROUP BY forum_id, author_id) a "
        f"LEFT JOIN ({main_language_sql(where)}) l USING (forum_id, author_id) "
        "ORDER BY a.forum_id, a.author_id", params + params)


def _fetch_text(con: Any, where: str, max_chars: int, batch_rows: int):
    q = (f"SELECT acc, left(string_agg(t, chr(30) ORDER BY k), {int(max_chars)}) AS text FROM {_POSTS} "
         f"WHERE {where} GROUP BY acc ORDER BY acc")
    rel = con.sql(q)
    reader = rel.to_arrow_reader(batch_rows) if hasattr(rel, "to_arrow_reader") else rel.fetch_arrow_reader(batch_rows)
    for batch in reader:
        yield np.asarray(batch.column(0).to_numpy(), dtype=np.int64), batch.column(1).to_pylist()


def _chunks_by_size(texts: list[str], max_bytes: int = 1_500_000):
    start, size = 0, 0
    for i, t in enumerate(texts):
        size += len(t)
        if size >= max_bytes:
            yield start, i + 1
            start, size = i + 1, 0
    if start < len(texts):
        yield start, len(texts)


@dataclass
class _TextCounts:
    char: sp.csr_matrix
    words: sp.csr_matrix
    fw: np.ndarray  # (n, n_fw) counts
    n_tokens: np.ndarray
    habits: np.ndarray  # (n, len(style.HABITS))


_CHAR_FEATURES = 2**18
_WORD_FEATURES = 2**20


def _count_chunk(span: tuple[int, int]) -> tuple:
    """The text counts of one chunk of SHARED["texts"] (in a forked worker or here)."""
    from forumscope.analyze.graph import SHARED

    part = SHARED["texts"][span[0]:span[1]]
    char = style.byte_ngram_counts(part, (2, 3, 4), _CHAR_FEATURES)
    wdoc, h, per_doc = style.word_tokens(part)
    w = style.word_counts(wdoc, h, len(part), _WORD_FEATURES)
    fw = np.asarray(w[:, SHARED["fw_buckets"]].todense(), dtype=np.float32)
    return char, w, fw, per_doc, style.habit_features(part)


def _count_text(texts: list[str], fw_buckets: np.ndarray, jobs: int = 1) -> _TextCounts:
    """Character n-grams, words, function words, token counts and habits of each text; the chunks of
    text (about 1.5 MB each) in ``jobs`` forked workers (0 = automatic), results in chunk order."""
    from forumscope.analyze.graph import fork_map, workers_for

    spans = list(_chunks_by_size(texts))
    if not spans:
        return _TextCounts(sp.csr_matrix((0, _CHAR_FEATURES), dtype=np.float32),
                           sp.csr_matrix((0, _WORD_FEATURES), dtype=np.float32),
                           np.zeros((0, len(fw_buckets)), np.float32), np.zeros(0, np.int64),
                           np.zeros((0, len(style.HABITS))))
    workers = workers_for(jobs, len(spans), math.inf)
    parts, _ = fork_map(_count_chunk, spans, workers, {"texts": texts, "fw_buckets": fw_buckets})
    chars, words, fws, ntok, habits = zip(*parts)
    return _TextCounts(sp.vstack(chars, format="csr"), sp.vstack(words, format="csr"), np.vstack(fws),
                       np.concatenate(ntok), np.vstack(habits))


@dataclass
class _Lsa:
    """TF-IDF over the most frequent hashed features of the fit sample, then a fixed projection."""

    lut: np.ndarray  # hashed column -> kept column (-1 = dropped)
    idf: np.ndarray
    proj: np.ndarray  # (kept, d) float32
    mean: np.ndarray  # (d,) mean of the projected sample

    @classmethod
    def fit(cls, X: sp.csr_matrix, dims: int, max_features: int, seed: int) -> "_Lsa":
        n = X.shape[0]
        df = np.bincount(X.indices, minlength=X.shape[1])
        keep = np.flatnonzero(df >= 2)
        if len(keep) > max_features:
            keep = keep[np.argsort(-df[keep], kind="stable")[:max_features]]
            keep.sort()
        if len(keep) < 2:
            keep = np.flatnonzero(df >= 1)
        lut = np.full(X.shape[1], -1, dtype=np.int64)
        lut[keep] = np.arange(len(keep))
        idf = (np.log((1.0 + n) / (1.0 + df[keep])) + 1.0).astype(np.float32)
        T = _tfidf(_remap(X, lut, len(keep)), idf)
        d = max(1, min(dims, min(T.shape) - 1))
        proj = _svd_components(T, d, seed).T.astype(np.float32)
        mean = sparse_dense(T, proj).mean(axis=0)
        return cls(lut, idf, proj, mean.astype(np.float32))

    def transform(self, X: sp.csr_matrix) -> np.ndarray:
        T = _tfidf(_remap(X, self.lut, len(self.idf)), self.idf)
        return _unit(sparse_dense(T, self.proj) - self.mean)


def _orth(Y: np.ndarray) -> np.ndarray:
    """Orthonormal basis of Y's columns by Cholesky QR (numpy's QR and SVD are slow with some
    LAPACK builds; a k x k Cholesky is not), falling back to the Gram eigenvectors."""
    from scipy.linalg import solve_triangular

    G = (Y.T @ Y).astype(np.float64)
    try:
        with _one_thread():
            L = np.linalg.cholesky(G + np.eye(len(G)) * (1e-10 * max(float(np.trace(G)), 1e-30)))
        return solve_triangular(L, Y.T.astype(np.float64), lower=True).T.astype(np.float32)
    except np.linalg.LinAlgError:
        with _one_thread():
            w, V = np.linalg.eigh(G)
        keep = w > max(float(w.max()), 1e-30) * 1e-9
        return (Y @ (V[:, keep] / np.sqrt(w[keep])).astype(Y.dtype)).astype(np.float32)


def _one_thread():
    """Small LAPACK calls (k x k, k ~ 300) run single-threaded: multi-threaded OpenBLAS takes
    seconds instead of milliseconds on them when the cores are busy."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _svd_components(T: sp.csr_matrix, d: int, seed: int, n_iter: int = 2) -> np.ndarray:
    """Top ``d`` right singular vectors of sparse T (d x columns): randomized range finder
    (Halko, Martinsson & Tropp 2011) with ``n_iter`` power iterations."""
    rng = np.random.default_rng(seed)
    k = min(d + 12, min(T.shape))
    Y = sparse_dense(T, rng.standard_normal((T.shape[1], k)).astype(np.float32))
    for _ in range(n_iter):
        Y = _orth(Y)
        Y = sparse_dense(T, sparse_dense(T, Y, transpose=True))
    Q = _orth(Y)
    B = sparse_dense(T, Q, transpose=True).T  # k x columns
    with _one_thread():
        w, U = np.linalg.eigh((B @ B.T).astype(np.float64))
    order = np.argsort(-w)[:d]
    w, U = np.maximum(w[order], 1e-30), U[:, order]
    return ((U.T @ B) / np.sqrt(w)[:, None]).astype(np.float32)


DENSE_FROM = 0.05  # density above which a sparse x dense product runs as dense BLAS on row blocks


def sparse_dense(T: sp.csr_matrix, D: np.ndarray, transpose: bool = False, block_bytes: int = 64 << 20
                 ) -> np.ndarray:
    """``T @ D`` (or ``T.T @ D``) as float32, for a CSR ``T`` and a dense ``D``. SciPy's sparse product
    runs on one thread at about 3 multiply-adds per nanosecond; the profiles' TF-IDF matrices are
    8-10 % dense (character and word n-grams, synthetic 1M-post forum), where multiplying row blocks
    of ``T`` made dense with BLAS (all cores) is faster: the step's products took 5.7 s instead of
    9.8 s there. Below ``DENSE_FROM`` SciPy's product is used; blocks hold ``block_bytes``."""
    D = np.asarray(D, dtype=np.float32)
    rows, cols = T.shape
    if not rows or not cols or T.nnz < DENSE_FROM * rows * cols:
        return np.asarray(T.T @ D if transpose else T @ D, dtype=np.float32)
    block = max(1, block_bytes // (4 * cols))  # rows per dense block
    if transpose:
        out = np.zeros((cols, D.shape[1]), dtype=np.float32)
        for s in range(0, rows, block):
            out += T[s:s + block].toarray().T @ D[s:s + block]
        return out
    out = np.empty((rows, D.shape[1]), dtype=np.float32)
    for s in range(0, rows, block):
        out[s:s + block] = T[s:s + block].toarray() @ D
    return out


def _remap(X: sp.csr_matrix, lut: np.ndarray, n_cols: int) -> sp.csr_matrix:
    coo = X.tocoo()
    new = lut[coo.col]
    ok = new >= 0
    return sp.csr_matrix((coo.data[ok], (coo.row[ok], new[ok])), shape=(X.shape[0], n_cols))


def _tfidf(X: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    X = X.astype(np.float32, copy=True)
    X.data = (1.0 + np.log(X.data)) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ X)


def _unit(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float32)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return A / norms


@dataclass
class _Standardise:
    mean: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, A: np.ndarray) -> "_Standardise":
        sd = A.std(axis=0)
        floor = max(1e-9, float(np.median(sd[sd > 0])) * 0.05) if np.any(sd > 0) else 1.0
        return cls(A.mean(axis=0), np.maximum(sd, floor))

    def transform(self, A: np.ndarray) -> np.ndarray:
        return _unit((A - self.mean) / self.sd)


def build_profiles(sources: Sequence[_Source], p: Any,
                   progress: Callable[[str, float], None] | None = None) -> Profiles:
    """Profile the eligible accounts of one or two sources into a common feature space."""
    say = progress or (lambda m, f: None)
    rng = np.random.default_rng(p.seed)
    tables, thin_tables = [], []
    for si, src in enumerate(sources):
        t = _accounts(src, p)
        ok = np.asarray(pc.and_(pc.greater_equal(t["n_posts"], p.min_posts),
                                pc.greater_equal(t["n_words"], p.min_words)), dtype=bool)
        thin = t.filter(pa.array(~ok))
        thin_tables.append(thin.append_column("case", pa.array([src.label] * thin.num_rows, pa.string())))
        tables.append((si, t.filter(pa.array(ok))))
    def cat(col: str, dtype: Any) -> np.ndarray:
        parts = [np.asarray(t[col].to_pylist(), dtype=dtype) for _, t in tables]
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    forum, user, lang = cat("forum_id", object), cat("user_id", object), cat("language", object)
    n_posts, n_words = cat("n_posts", np.int64), cat("n_words", np.int64)
    n = len(forum)
    source = np.concatenate([np.full(t.num_rows, si, np.int8) for si, t in tables]) if tables else np.zeros(0, np.int8)
    # Account index = position in a random permutation, so that the first accounts are a random
    # fit sample and text arrives in index order.
    order = rng.permutation(n)
    source, forum, user, n_posts, n_words, lang = (a[order] for a in (source, forum, user, n_posts, n_words, lang))
    thin = pa.concat_tables(thin_tables) if thin_tables else pa.table({})
    eligible = pa.table({"case": pa.array([sources[s].label for s in source], pa.string()),
                         "forum_id": pa.array([str(x) for x in forum], pa.string()),
                         "user_id": pa.array([str(x) for x in user], pa.string()),
                         "n_posts": pa.array(n_posts, pa.int64()), "n_words": pa.array(n_words, pa.int64()),
                         "language": pa.array([None if x is None else str(x) for x in lang], pa.string())})
    empty = Profiles(source, forum, user, n_posts, n_words, lang, {}, None, thin, eligible)
    if n < 2:
        return empty

    # ---- per source: register the accounts, sample the posts into a temp table
    rhythm_counts = np.zeros((n, 168), dtype=np.float64)
    for si, src in enumerate(sources):
        sel = np.flatnonzero(source == si)
        if not len(sel):
            continue
        con = src.case.con
        acc = pa.table({"forum_id": list(forum[sel]), "user_id": list(user[sel]), "acc": sel.astype(np.int64)})
        con.register(_ACC, acc)
        say(f"aliases: sampling posts of {len(sel):,} accounts ({src.label})", 0.02)
        con.execute(f"DROP TABLE IF EXISTS {_POSTS}")
        con.execute(
            f"CREATE TEMP TABLE {_POSTS} AS SELECT a.acc, p.text AS t, hash(p.id) AS k FROM posts p "
            f"JOIN {_ACC} a ON p.forum_id = a.forum_id AND p.author_id = a.user_id "
            "WHERE p.text IS NOT NULL AND length(trim(p.text)) > 0 "
            f"QUALIFY row_number() OVER (PARTITION BY a.acc ORDER BY hash(p.id), p.id) <= {int(p.max_posts)}")
        if p.use_rhythm:
            say("aliases: hour-of-week rhythm (SQL)", 0.12)
            r = con.execute(style.hour_of_week_sql(
                f"SELECT a.acc, p.created_at AS ts FROM posts p JOIN {_ACC} a "
                "ON p.forum_id = a.forum_id AND p.author_id = a.user_id")).fetchnumpy()
            np.add.at(rhythm_counts, (np.asarray(r["acc"], np.int64), np.asarray(r["how"], np.int64)),
                      np.asarray(r["n"], np.float64))

    # ---- fit on the sample (the first fit_sample indices, a random sample of all sources)
    n_fit = min(n, p.fit_sample)
    fw_words = style.function_word_list()
    fw_buckets = np.unique(style._bucket(style.word_hashes(fw_words), _WORD_FEATURES))
    say(f"aliases: fitting features on {n_fit:,} accounts", 0.15)
    fit_texts: list[str] = [""] * n_fit
    for si, src in enumerate(sources):
        if not np.any(source[:n_fit] == si):
            continue
        for accs, texts in _fetch_text(src.case.con, f"acc < {n_fit}", p.max_chars, 2048):
            for a, t in zip(accs, texts):
                fit_texts[a] = t or ""
    fc = _count_text(fit_texts, fw_buckets, p.jobs)
    del fit_texts
    char_lsa = _Lsa.fit(fc.char, p.dims_char, 2**15, p.seed)
    word_lsa = _Lsa.fit(fc.words, p.dims_words, 2**15, p.seed)
    fw_rel = fc.fw / np.maximum(fc.n_tokens, 1)[:, None]
    fw_keep = np.argsort(-fw_rel.mean(axis=0), kind="stable")[:p.n_function_words]
    fw_keep = fw_keep[fw_rel[:, fw_keep].mean(axis=0) > 0]
    if len(fw_keep) == 0:
        fw_keep = np.arange(min(1, fw_rel.shape[1]))
    fw_std = _Standardise.fit(fw_rel[:, fw_keep])
    hab_std = _Standardise.fit(fc.habits)
    del fc

    vec = {"char": np.zeros((n, char_lsa.proj.shape[1]), np.float32),
           "words": np.zeros((n, word_lsa.proj.shape[1]), np.float32),
           "function_words": np.zeros((n, len(fw_keep)), np.float32),
           "punctuation": np.zeros((n, len(style.HABITS)), np.float32)}
    done = 0
    for si, src in enumerate(sources):
        rows = int(np.sum(source == si))
        if not rows:
            continue
        for accs, texts in _fetch_text(src.case.con, "true", p.max_chars, max(64, 16_000_000 // p.max_chars)):
            texts = [t or "" for t in texts]
            tc = _count_text(texts, fw_buckets, p.jobs)
            vec["char"][accs] = char_lsa.transform(tc.char)
            vec["words"][accs] = word_lsa.transform(tc.words)
            rel = tc.fw / np.maximum(tc.n_tokens, 1)[:, None]
            vec["function_words"][accs] = fw_std.transform(rel[:, fw_keep])
            vec["punctuation"][accs] = hab_std.transform(tc.habits)
            done += len(accs)
            say(f"aliases: text features {done:,}/{n:,}", 0.15 + 0.6 * done / n)
        src.case.con.execute(f"DROP TABLE IF EXISTS {_POSTS}")
        src.case.con.unregister(_ACC)
    overlap = None
    timed = rhythm_counts.sum(axis=1) > 0
    if p.use_rhythm and timed.mean() >= 0.5:  # rhythm only where most accounts have timestamps
        overlap = style.rhythm_vectors(rhythm_counts)
        overlap[~timed] = 0.0  # no timestamps: similarity 0 (neutral after standardisation)
        centred = overlap - overlap[:n_fit][timed[:n_fit]].mean(axis=0)
        centred[~timed] = 0.0
        vec["rhythm"] = _unit(centred)
    return Profiles(source, forum, user, n_posts, n_words, lang, vec, overlap, thin, eligible)


# ============================================================================ neighbours
def _allowed(prof: Profiles, q: np.ndarray, c: np.ndarray, cross_forum_only: bool) -> np.ndarray:
    ok = q != c
    if cross_forum_only:
        ok &= ~((prof.source[q] == prof.source[c]) & (prof.forum_id[q] == prof.forum_id[c]))
    return ok


def _topk_rows(S: np.ndarray, k: int) -> np.ndarray:
    k = min(k, S.shape[1])
    if k == S.shape[1]:
        return np.tile(np.arange(k), (S.shape[0], 1))
    return np.argpartition(-S, k - 1, axis=1)[:, :k]


def _spherical_kmeans(X: np.ndarray, k: int, rng: np.random.Generator, iters: int = 12) -> np.ndarray:
    """k unit centroids of unit rows X (Lloyd's algorithm on cosine; random initial rows; an empty
    cluster is re-seeded with a random row)."""
    k = min(k, len(X))
    cent = X[rng.choice(len(X), k, replace=False)].copy()
    for _ in range(iters):
        lab = np.concatenate([np.argmax(X[a:a + 8192] @ cent.T, axis=1) for a in range(0, len(X), 8192)])
        onehot = sp.csr_matrix((np.ones(len(X), np.float32), (lab, np.arange(len(X)))), shape=(k, len(X)))
        sums = np.asarray(onehot @ X)
        empty = np.asarray(onehot.sum(axis=1)).ravel() == 0
        sums[empty] = X[rng.choice(len(X), int(empty.sum()))]
        cent = _unit(sums)
    return cent


def nearest(V: np.ndarray, queries: np.ndarray, index: np.ndarray, pool: int, *, forum_code: np.ndarray | None,
            exact_max: int, nprobe: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``pool`` rows of ``index`` with the largest dot product with each row of ``queries``
    (never itself; never the same forum code when ``forum_code`` is given). Exact when
    len(index) <= exact_max, else k-means blocking (IVF: each query searches the ``nprobe``
    clusters nearest to it). Returns (query row, candidate row) pairs."""
    qs, cs = [], []
    if len(index) <= exact_max:
        Vi = V[index]
        fc_i = forum_code[index] if forum_code is not None else None
        block = max(1, 8_000_000 // max(1, len(index)))
        for a in range(0, len(queries), block):
            qb = queries[a:a + block]
            S = V[qb] @ Vi.T
            S[qb[:, None] == index[None, :]] = -np.inf
            if fc_i is not None:
                S[forum_code[qb][:, None] == fc_i[None, :]] = -np.inf
            top = _topk_rows(S, pool)
            val = np.take_along_axis(S, top, axis=1)
            keep = np.isfinite(val)
            qs.append(np.repeat(qb, top.shape[1])[keep.ravel()])
            cs.append(index[top][keep])
        return np.concatenate(qs) if qs else np.zeros(0, np.int64), np.concatenate(cs) if cs else np.zeros(0, np.int64)

    rng = np.random.default_rng(seed)
    n_clusters = int(min(4096, max(16, round(math.sqrt(len(index)) * 1.5))))
    sample = index[rng.permutation(len(index))[:min(len(index), 40 * n_clusters)]]
    cent = _spherical_kmeans(V[sample], n_clusters, rng)
    assign = np.concatenate([np.argmax(V[index[a:a + 20000]] @ cent.T, axis=1)
                             for a in range(0, len(index), 20000)])
    probe = np.concatenate([_topk_rows(V[queries[a:a + 20000]] @ cent.T, nprobe)
                            for a in range(0, len(queries), 20000)])
    members = np.argsort(assign, kind="stable")
    bounds = np.searchsorted(assign[members], np.arange(n_clusters + 1))
    pq = np.repeat(np.arange(len(queries)), probe.shape[1])
    pc = probe.ravel()
    porder = np.argsort(pc, kind="stable")
    pbounds = np.searchsorted(pc[porder], np.arange(n_clusters + 1))
    all_q, all_c, all_s = [], [], []
    for c in range(n_clusters):
        mem = index[members[bounds[c]:bounds[c + 1]]]
        qpos = pq[porder[pbounds[c]:pbounds[c + 1]]]
        if not len(mem) or not len(qpos):
            continue
        for a in range(0, len(qpos), 4096):
            qb = queries[qpos[a:a + 4096]]
            S = V[qb] @ V[mem].T
            S[qb[:, None] == mem[None, :]] = -np.inf
            if forum_code is not None:
                S[forum_code[qb][:, None] == forum_code[mem][None, :]] = -np.inf
            top = _topk_rows(S, pool)
            val = np.take_along_axis(S, top, axis=1)
            keep = np.isfinite(val).ravel()
            all_q.append(np.repeat(qb, top.shape[1])[keep].astype(np.int32))
            all_c.append(mem[top].ravel()[keep].astype(np.int32))
            all_s.append(val.ravel()[keep].astype(np.float32))
    if not all_q:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    q, c, s = np.concatenate(all_q), np.concatenate(all_c), np.concatenate(all_s)
    del all_q, all_c, all_s
    o = np.lexsort((-s, q))
    del s
    q, c = q[o], c[o]
    del o
    first = np.searchsorted(q, q, side="left")
    keep = (np.arange(len(q), dtype=np.int64) - first) < pool
    return q[keep].astype(np.int64), c[keep].astype(np.int64)


# ============================================================================ scoring
@dataclass
class Background:
    """Per family: similarity of random allowed pairs of accounts (mean, sd, quantiles)."""

    mean: dict[str, float]
    sd: dict[str, float]
    sorted_sims: dict[str, np.ndarray]
    n_pairs: int

    def z(self, f: str, s: np.ndarray) -> np.ndarray:
        return (s - self.mean[f]) / self.sd[f]

    def percentile(self, f: str, s: np.ndarray) -> np.ndarray:
        ref = self.sorted_sims[f]
        return np.searchsorted(ref, s, side="right") / max(1, len(ref))


def _pair_sims(prof: Profiles, q: np.ndarray, c: np.ndarray, families: Sequence[str]) -> dict[str, np.ndarray]:
    out = {}
    for f in families:
        V = prof.vectors[f]
        out[f] = np.concatenate([np.einsum("ij,ij->i", V[q[a:a + 200000]], V[c[a:a + 200000]])
                                 for a in range(0, max(1, len(q)), 200000)]) if len(q) else np.zeros(0)
    return out


def background(prof: Profiles, queries: np.ndarray, index: np.ndarray, families: Sequence[str],
               cross_forum_only: bool, rng: np.random.Generator, n_pairs: int = 20000) -> Background:
    q = queries[rng.integers(0, len(queries), n_pairs * 2)]
    c = index[rng.integers(0, len(index), n_pairs * 2)]
    ok = _allowed(prof, q, c, cross_forum_only)
    q, c = q[ok][:n_pairs], c[ok][:n_pairs]
    sims = _pair_sims(prof, q, c, families)
    mean = {f: float(np.mean(sims[f])) if len(q) else 0.0 for f in families}
    sd = {f: max(float(np.std(sims[f])), 1e-3) if len(q) else 1.0 for f in families}
    return Background(mean, sd, {f: np.sort(sims[f]) for f in families}, int(len(q)))


# ============================================================================ API
@dataclass
class AliasResult:
    """What :func:`find_aliases` returns: three Arrow tables (see docs/analyses/aliases.md)."""

    candidates: pa.Table  # ranked candidates per account, with score and evidence
    accounts: pa.Table  # every account considered: linked or too_thin, with its text size
    families: pa.Table  # per feature family: background of random pairs, weight, calibration
    seconds: dict[str, float] = field(default_factory=dict)


def _params(overrides: Mapping[str, Any]) -> "AliasesStep":
    return AliasesStep(**dict(overrides))


def _open(case: Any, read_only: bool) -> tuple[Any, bool]:
    from forumscope.store.case import Case, open_case

    if isinstance(case, Case):
        return case, False
    if isinstance(case, (str, Path)):
        return open_case(case, read_only=read_only), True
    raise UsageError(f"expected a case folder or an open Case, got {type(case).__name__}")


def _label(case: Any) -> str:
    return str(case.settings.get("case", {}).get("name") or Path(case.path).name)


def find_aliases(case: Any, other: Any = None, top: int = 10, *, forum_id: str | None = None,
                 progress: Callable[[str, float], None] | None = None, **params: Any) -> AliasResult:
    """Ranked alias candidates for every account of ``case`` with enough text.

    ``case`` and ``other`` are case folders or open :class:`~forumscope.store.case.Case` objects.
    Without ``other``, candidates come from the same case (any forum in it, or another forum only
    with ``cross_forum_only=True``); with ``other``, each account of ``case`` gets candidates from
    ``other`` only. ``forum_id`` restricts ``case`` to one forum. ``params`` are the step's
    parameters (:data:`PARAMS`: min_posts, min_words, max_posts, max_chars, use_rhythm, ...),
    validated in one place; an unknown or invalid one raises :class:`ConfigError`.

    Returns an :class:`AliasResult` (candidates, accounts, families as Arrow tables); the type
    never depends on the arguments. Library code: nothing is printed or written to the case.
    """
    p = _params({**params, "top": top})
    c1, own1 = _open(case, read_only=False)
    c2, own2 = (None, False) if other is None else _open(other, read_only=True)
    try:
        sources = [_Source(c1, _label(c1), forum_id)]
        if c2 is not None:
            l2 = _label(c2)
            if l2 == sources[0].label:
                l2 = l2 + " (other)"
            sources.append(_Source(c2, l2, None))
        return _run(sources, p, progress)[0]
    finally:
        if own2 and c2 is not None:
            c2.close()
        if own1:
            c1.close()


class _Quiet:
    """Switch DuckDB's progress bar off on the given connections for a while (library code never
    prints), restoring each connection's own setting afterwards."""

    def __init__(self, cons: list[Any]):
        self.cons = cons
        self.saved: list[Any] = []

    def __enter__(self) -> "_Quiet":
        for con in self.cons:
            try:
                self.saved.append(con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0])
                con.execute("SET enable_progress_bar = false")
            except Exception:  # noqa: BLE001 - an older DuckDB without the setting
                self.saved.append(None)
        return self

    def __exit__(self, *exc: object) -> None:
        for con, value in zip(self.cons, self.saved):
            if value is not None:
                con.execute(f"SET enable_progress_bar = {'true' if value else 'false'}")


def _run(sources: list[_Source], p: Any, progress: Callable[[str, float], None] | None,
         calibration: Calibration | None = None) -> tuple[AliasResult, Profiles, _Scored | None]:
    with _Quiet([s.case.con for s in sources]):
        return _run_quiet(sources, p, progress, calibration)


@dataclass
class _Scored:
    """Candidate pairs with their features (before the cut to ``top``)."""

    q: np.ndarray
    c: np.ndarray
    sims: dict[str, np.ndarray]
    z: dict[str, np.ndarray]
    lin: np.ndarray
    hub_sum: np.ndarray
    m_a: np.ndarray  # lead of this candidate over the account's best other candidate
    m_b: np.ndarray  # the same from the candidate's side
    logit: np.ndarray


def _hubness(q: np.ndarray, lin: np.ndarray, n: int, k: int = HUB_K) -> np.ndarray:
    """Per account: mean of its ``k`` best linear scores among its pairs (q sorted or not)."""
    if not len(q):
        return np.zeros(n)
    o = np.lexsort((-lin, q))
    qs, ls = q[o], lin[o]
    first = np.searchsorted(qs, qs, side="left")
    keep = (np.arange(len(qs)) - first) < k
    tot = np.bincount(qs[keep], weights=ls[keep], minlength=n)
    cnt = np.bincount(qs[keep], minlength=n)
    out = np.full(n, np.nan)
    has = cnt > 0
    out[has] = tot[has] / cnt[has]
    out[~has] = np.nanmean(out) if np.any(has) else 0.0
    return out


def _candidates(prof: Profiles, p: Any, two: bool, families: list[str], cal: Calibration,
                say: Callable[[str, float], None]) -> tuple[_Scored | None, Background | None]:
    rng = np.random.default_rng(p.seed + 1)
    queries = np.flatnonzero(prof.source == 0)
    index = np.flatnonzero(prof.source == 1) if two else queries
    if not len(queries) or not len(index) or (not two and len(index) < 2):
        return None, None
    cross = p.cross_forum_only and not two
    bg = background(prof, queries, index, families, cross, rng)
    # Retrieval vector: its dot products are sum_f coef_f / sd_f * cos_f, i.e. the linear part of
    # the calibrated logit up to a constant, so nearest neighbours are the best-scored candidates.
    w = {f: max(cal.coef[f], 0.0) / bg.sd[f] for f in families}
    V = np.hstack([prof.vectors[f] * np.float32(math.sqrt(w[f])) for f in families if w[f] > 0])
    forum_code = None
    if cross:
        _, forum_code = np.unique(prof.forum_id.astype(str), return_inverse=True)
    say("aliases: nearest neighbours", 0.8)
    kw = dict(forum_code=forum_code, exact_max=p.exact_max, nprobe=p.nprobe, seed=p.seed)
    q, c = nearest(V, queries, index, max(p.pool, p.top, HUB_K), **kw)
    if two:  # hubness of the other side's accounts: their own neighbours among the queries
        hq, hc = nearest(V, index, queries, HUB_K, **kw)
    del V
    say("aliases: scoring candidates", 0.92)
    sims = _pair_sims(prof, q, c, families)
    z = {f: bg.z(f, sims[f]) for f in families}
    lin = cal.linear(z, families)
    hub = _hubness(q, lin, prof.n)
    if two:
        hs = _pair_sims(prof, hq, hc, families)
        hub2 = _hubness(hq, cal.linear({f: bg.z(f, hs[f]) for f in families}, families), prof.n)
        hub[index] = hub2[index]
    hub_sum = hub[q] + hub[c]
    sc = lin + cal.hub * hub_sum
    best, partner, second = _best_two(q, c, sc, prof.n)
    if two:  # the candidates' own lists (neighbours among the queries), for their side's margin
        sh = cal.linear({f: bg.z(f, hs[f]) for f in families}, families) + cal.hub * (hub[hq] + hub[hc])
        b2, p2, s2 = _best_two(hq, hc, sh, prof.n)
        best[index], partner[index], second[index] = b2[index], p2[index], s2[index]
    m_a = _margin(sc, q, c, best, partner, second)
    m_b = _margin(sc, c, q, best, partner, second)
    logit = cal.logit(lin, hub_sum, m_a, m_b, p.prior)
    return _Scored(q, c, sims, z, lin, hub_sum, m_a, m_b, logit), bg


def _best_two(owner: np.ndarray, other: np.ndarray, s: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
    """Per account (as owner of a candidate list): best score, its partner, second-best score
    (NaN where the account has no list, the best score where it has a single candidate)."""
    best = np.full(n, np.nan)
    second = np.full(n, np.nan)
    partner = np.full(n, -1, dtype=np.int64)
    if not len(owner):
        return best, partner, second
    o = np.lexsort((-s, owner))
    ow, ot, ss = owner[o], other[o], s[o]
    first = np.flatnonzero(np.r_[True, ow[1:] != ow[:-1]])
    best[ow[first]] = ss[first]
    partner[ow[first]] = ot[first]
    nxt = np.minimum(first + 1, len(ow) - 1)
    two_ok = (first + 1 < len(ow)) & (ow[nxt] == ow[first])
    second[ow[first]] = np.where(two_ok, ss[nxt], ss[first])
    return best, partner, second


def _margin(s: np.ndarray, a: np.ndarray, b: np.ndarray, best: np.ndarray, partner: np.ndarray,
            second: np.ndarray) -> np.ndarray:
    """How far s(a, b) is ahead of a's best other candidate (0 where a has no other candidate)."""
    ref = np.where(partner[a] == b, second[a], best[a])
    m = s - ref
    m[~np.isfinite(m)] = 0.0
    return np.clip(m, -10.0, 10.0)


def _run_quiet(sources: list[_Source], p: Any, progress: Callable[[str, float], None] | None,
               calibration: Calibration | None = None) -> tuple[AliasResult, Profiles, _Scored | None]:
    say = progress or (lambda m, f: None)
    t0 = time.perf_counter()
    prof = build_profiles(sources, p, progress)
    t1 = time.perf_counter()
    families = [f for f in FAMILIES if f in prof.vectors]
    cal = calibration or (CALIBRATION if "rhythm" in families else CALIBRATION_NO_RHYTHM)
    two = len(sources) == 2
    scored, bg = _candidates(prof, p, two, families, cal, say) if prof.n >= 2 else (None, None)
    cand = _score(prof, sources, scored, families, bg, p.top, mutual=not two) if scored is not None \
        else _empty_candidates()
    t2 = time.perf_counter()
    accounts = _accounts_table(prof, sources)
    fam = _families_table(families, bg, cal)
    return AliasResult(cand, accounts, fam, {"profiles": t1 - t0, "candidates": t2 - t1}), prof, scored


def _score(prof: Profiles, sources: list[_Source], sc: _Scored, families: list[str], bg: Background,
           top: int, mutual: bool) -> pa.Table:
    q, c, logit = sc.q, sc.c, sc.logit
    # Capped at SCORE_RANGE: a few hundred calibration pairs cannot support more certainty.
    score = np.clip(1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50))), *SCORE_RANGE)
    o = np.lexsort((c, -logit, q))
    q, c, score = q[o], c[o], score[o]
    lead = sc.m_a[o]
    sims = {f: s[o] for f, s in sc.sims.items()}
    first = np.searchsorted(q, q, side="left")
    rank = np.arange(len(q)) - first + 1
    keep = rank <= top
    q, c, score, rank, lead = q[keep], c[keep], score[keep], rank[keep], lead[keep]
    sims = {f: s[keep] for f, s in sims.items()}
    pct = {f: bg.percentile(f, sims[f]) for f in families}
    code = np.zeros(len(q), dtype=np.int64)
    for k, f in enumerate(families):
        code |= (pct[f] >= 0.99).astype(np.int64) << k
    names = [",".join(f for k, f in enumerate(families) if m >> k & 1) for m in range(1 << len(families))]
    agree = np.asarray(names, dtype=object)[code]
    mrank: Any = None
    if mutual and len(q):
        key = q.astype(np.int64) * prof.n + c
        o = np.argsort(key)
        back = c.astype(np.int64) * prof.n + q
        pos = np.clip(np.searchsorted(key[o], back), 0, len(key) - 1)
        found = key[o][pos] == back
        mrank = pa.array(np.where(found, rank[o][pos], 0), pa.int64(), mask=~found)
    overlap = (np.einsum("ij,ij->i", prof.overlap[q], prof.overlap[c]) if prof.overlap is not None and len(q)
               else None)
    cols: dict[str, Any] = {
        "forum_id": pa.array(list(prof.forum_id[q]), pa.string()),
        "user_id": pa.array(list(prof.user_id[q]), pa.string()),
        "rank": pa.array(rank, pa.int64()),
        "candidate_case": pa.array([sources[s].label for s in prof.source[c]], pa.string()),
        "candidate_forum_id": pa.array(list(prof.forum_id[c]), pa.string()),
        "candidate_user_id": pa.array(list(prof.user_id[c]), pa.string()),
        "score": pa.array(np.round(score, 6), pa.float64()),
        "families_agreeing": pa.array(list(agree), pa.string()),
    }
    for f in FAMILIES:
        cols[f"sim_{f}"] = pa.array(np.round(sims[f], 4) if f in sims else [None] * len(q), pa.float64())
    for f in FAMILIES:
        cols[f"pct_{f}"] = pa.array(np.round(pct[f], 4) if f in pct else [None] * len(q), pa.float64())
    cols["rhythm_overlap"] = pa.array(np.round(overlap, 4) if overlap is not None else [None] * len(q),
                                      pa.float64())
    cols["mutual_rank"] = mrank if mrank is not None else pa.nulls(len(q), pa.int64())
    cols["lead"] = pa.array(np.round(lead, 4), pa.float64())
    cols["n_posts"] = pa.array(prof.n_posts[q], pa.int64())
    cols["n_words"] = pa.array(prof.n_words[q], pa.int64())
    cols["candidate_n_posts"] = pa.array(prof.n_posts[c], pa.int64())
    cols["candidate_n_words"] = pa.array(prof.n_words[c], pa.int64())
    return pa.table(cols)


def _empty_candidates() -> pa.Table:
    schema = [("forum_id", pa.string()), ("user_id", pa.string()), ("rank", pa.int64()),
              ("candidate_case", pa.string()), ("candidate_forum_id", pa.string()),
              ("candidate_user_id", pa.string()), ("score", pa.float64()), ("families_agreeing", pa.string())]
    schema += [(f"sim_{f}", pa.float64()) for f in FAMILIES] + [(f"pct_{f}", pa.float64()) for f in FAMILIES]
    schema += [("rhythm_overlap", pa.float64()), ("mutual_rank", pa.int64()), ("lead", pa.float64()),
               ("n_posts", pa.int64()),
               ("n_words", pa.int64()), ("candidate_n_posts", pa.int64()), ("candidate_n_words", pa.int64())]
    return pa.schema(schema).empty_table()


def _accounts_table(prof: Profiles, sources: list[_Source]) -> pa.Table:
    e = prof.eligible
    linked = pa.table({"case": e["case"].cast(pa.string()), "forum_id": e["forum_id"].cast(pa.string()),
                       "user_id": e["user_id"].cast(pa.string()),
                       "status": pa.array(["linked"] * e.num_rows, pa.string()),
                       "n_posts": e["n_posts"].cast(pa.int64()), "n_words": e["n_words"].cast(pa.int64()),
                       "language": e["language"].cast(pa.string())})
    t = prof.thin
    if t.num_rows:
        thin = pa.table({"case": t["case"].cast(pa.string()), "forum_id": t["forum_id"].cast(pa.string()),
                         "user_id": t["user_id"].cast(pa.string()),
                         "status": pa.array(["too_thin"] * t.num_rows, pa.string()),
                         "n_posts": t["n_posts"].cast(pa.int64()), "n_words": t["n_words"].cast(pa.int64()),
                         "language": t["language"].cast(pa.string())})
        linked = pa.concat_tables([linked, thin])
    return linked.sort_by([("case", "ascending"), ("forum_id", "ascending"), ("user_id", "ascending")])


def _families_table(families: list[str], bg: Background | None, cal: Calibration) -> pa.Table:
    rows = {"family": [], "description": [], "used": [], "background_mean": [], "background_sd": [],
            "background_p99": [], "background_pairs": [], "coefficient": [], "calibration": []}
    for f in FAMILIES:
        used = f in families
        rows["family"].append(f)
        rows["description"].append(FAMILY_DOC[f])
        rows["used"].append(used)
        ok = used and bg is not None and bg.n_pairs > 0
        rows["background_mean"].append(bg.mean[f] if ok else None)
        rows["background_sd"].append(bg.sd[f] if ok else None)
        rows["background_p99"].append(float(np.quantile(bg.sorted_sims[f], 0.99)) if ok else None)
        rows["background_pairs"].append(bg.n_pairs if ok else None)
        rows["coefficient"].append(float(cal.coef[f]) if used else None)
        rows["calibration"].append(f"intercept {cal.intercept}, hubness {cal.hub}, margins {cal.margin} and "
                                   f"{cal.margin_candidate}, trained at prior {cal.train_prior}; {cal.fitted_on}")
    return pa.table(rows)


# ============================================================================ closed-set attribution
def attribute(case: Any, known: Any, labels: Mapping[str, str], **params: Any) -> pa.Table:
    """Closed-set attribution: which known author (a label over accounts of ``known``) does each
    account of ``case`` write most like?

    Each label's profile is the centroid of its accounts' family vectors; an account's score for
    a label is the linear part of the calibrated logit, sum_f coef_f * z_f, with z_f standardised
    against (account, known account) pairs. This is a ranking of a closed set of candidates, not
    a calibrated probability (the true author may be none of them). Returns one row per account
    and label: forum_id, user_id, rank, label, score_linear, sim_<family>.

    Example: the Federalist Papers (tests/test_aliases.py, docs/validation.md)."""
    p = _params(params)
    c1, own1 = _open(case, read_only=False)
    c2, own2 = _open(known, read_only=True)
    try:
        sources = [_Source(c1, _label(c1), None), _Source(c2, _label(c2) + " (known)", None)]
        with _Quiet([s.case.con for s in sources]):
            prof = build_profiles(sources, p, None)
    finally:
        if own2:
            c2.close()
        if own1:
            c1.close()
    families = [f for f in FAMILIES if f in prof.vectors]
    cal = CALIBRATION if "rhythm" in families else CALIBRATION_NO_RHYTHM
    queries = np.flatnonzero(prof.source == 0)
    index = np.flatnonzero(prof.source == 1)
    names = sorted({labels[str(u)] for u in prof.user_id[index] if str(u) in labels})
    rows: dict[str, list] = {"forum_id": [], "user_id": [], "rank": [], "label": [], "score_linear": []}
    for f in FAMILIES:
        rows[f"sim_{f}"] = []
    if not len(queries) or not names:
        return pa.table(rows)
    bg = background(prof, queries, index, families, False, np.random.default_rng(p.seed + 1))
    lab = np.array([labels.get(str(u)) for u in prof.user_id[index]], dtype=object)
    sims = {f: np.column_stack([prof.vectors[f][queries] @ _unit(prof.vectors[f][index[lab == n]].mean(
        axis=0, keepdims=True))[0] for n in names]) for f in families}  # (queries, labels)
    lin = sum(cal.coef[f] * (sims[f] - bg.mean[f]) / bg.sd[f] for f in families)
    order = np.argsort(-lin, axis=1, kind="stable")
    for i, qi in enumerate(queries):
        for r, j in enumerate(order[i]):
            rows["forum_id"].append(str(prof.forum_id[qi]))
            rows["user_id"].append(str(prof.user_id[qi]))
            rows["rank"].append(r + 1)
            rows["label"].append(names[j])
            rows["score_linear"].append(round(float(lin[i, j]), 4))
            for f in FAMILIES:
                rows[f"sim_{f}"].append(round(float(sims[f][i, j]), 4) if f in sims else None)
    return pa.table(rows)


# ============================================================================ calibration
def calibration_rows(case: Any, pairs: Sequence[tuple[tuple[str, str], tuple[str, str]]], other: Any = None, *,
                     calibration: Calibration | None = None, **params: Any) -> dict[str, Any]:
    """Features and labels of every retrieved candidate pair, for fitting :data:`CALIBRATION`.

    ``pairs`` are known aliases as ((forum_id, user_id), (forum_id, user_id)). Returns
    ``{"families", "z" (rows x families), "hub_sum", "y", "linked", "with_alias"}`` where
    ``with_alias`` counts linked accounts whose alias is linked too (the training prior is
    with_alias / linked). Used by ``bench/aliases_bench.py --calibrate``; never on evaluation data."""
    p = _params(params)
    c1, own1 = _open(case, read_only=False)
    c2, own2 = (None, False) if other is None else _open(other, read_only=True)
    try:
        sources = [_Source(c1, _label(c1), None)] + ([_Source(c2, _label(c2) + " (other)", None)] if c2 else [])
        _, prof, sc = _run(sources, p, None, calibration)
    finally:
        if own2 and c2 is not None:
            c2.close()
        if own1:
            c1.close()
    keys = {(str(a[0]), str(a[1]), str(b[0]), str(b[1])) for a, b in pairs}
    keys |= {(k[2], k[3], k[0], k[1]) for k in keys}
    families = [f for f in FAMILIES if f in prof.vectors]
    linked = {(str(f), str(u)) for f, u in zip(prof.forum_id, prof.user_id)}
    with_alias = sum(1 for k in keys if (k[0], k[1]) in linked and (k[2], k[3]) in linked)
    if sc is None:
        return {"families": families, "z": np.zeros((0, len(families))), "hub_sum": np.zeros(0),
                "m_a": np.zeros(0), "m_b": np.zeros(0), "y": np.zeros(0, bool), "linked": prof.n,
                "with_alias": with_alias}
    y = np.array([(str(prof.forum_id[a]), str(prof.user_id[a]), str(prof.forum_id[b]), str(prof.user_id[b])) in keys
                  for a, b in zip(sc.q, sc.c)], dtype=bool)
    return {"families": families, "z": np.column_stack([sc.z[f] for f in families]), "hub_sum": sc.hub_sum,
            "m_a": sc.m_a, "m_b": sc.m_b, "y": y, "linked": prof.n, "with_alias": with_alias}


def fit_calibration(rows: Sequence[Mapping[str, Any]], fitted_on: str, l2: float = 1.0,
                    min_coef: float = 0.1) -> Calibration:
    """Fit the logistic calibration on :func:`calibration_rows` outputs (same families in all):
    maximum likelihood with a small ridge penalty, family coefficients >= ``min_coef`` and the
    hubness coefficient <= 0.

    The floor keeps every family in the score (and the retrieval vector a weighted sum of cosines):
    the calibration data (template text; same-topic split halves) cannot show what function words
    and punctuation add across topics, where content families fail (docs/analyses/aliases.md)."""
    from scipy.optimize import minimize

    families = list(rows[0]["families"])
    X = np.vstack([np.column_stack([r["z"], r["hub_sum"], r["m_a"], r["m_b"]]) for r in rows])
    y = np.concatenate([r["y"] for r in rows]).astype(np.float64)
    prior = sum(r["with_alias"] for r in rows) / max(1, sum(r["linked"] for r in rows))
    k = X.shape[1] - 2  # families + hub; then the two margins

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:  # summed log-loss + ridge (as C = 1 / l2)
        t = w[0] + X @ w[1:]
        pr = 1.0 / (1.0 + np.exp(-np.clip(t, -40, 40)))
        ll = np.sum(np.logaddexp(0, t) - y * t)
        g = np.concatenate([[np.sum(pr - y)], X.T @ (pr - y)])
        g[1:] += l2 * w[1:]
        return ll + 0.5 * l2 * float(w[1:] @ w[1:]), g

    w0 = np.zeros(X.shape[1] + 1)
    w0[0] = _logit(max(y.mean(), 1e-6))
    bounds = [(None, None)] + [(min_coef, None)] * (k - 1) + [(None, 0.0)] + [(0.0, None)] * 2
    w0[1:k] = min_coef
    res = minimize(loss, w0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000})
    coef = {f: 0.0 for f in FAMILIES}
    coef.update({f: round(float(v), 4) for f, v in zip(families, res.x[1:k])})
    return Calibration(intercept=round(float(res.x[0]), 4), coef=coef, hub=round(float(res.x[k]), 4),
                       margin=round(float(res.x[k + 1]), 4), margin_candidate=round(float(res.x[k + 2]), 4),
                       train_prior=round(float(prior), 4), fitted_on=fitted_on)


# ============================================================================ step
class AliasesStep(Step):
    """Alias candidates within the case (every account with enough text; see docs/analyses/aliases.md)."""

    name = "aliases"
    description = "Ranked alias candidates (stylometry + rhythm) with calibrated scores and evidence."
    inputs = ("posts", "users")
    outputs = {
        "aliases_candidates": "Per account: top candidates (rank, score 0..1, per-family similarities and "
                              "percentiles, families agreeing, mutual rank, text sizes).",
        "aliases_accounts": "Every account with text: linked or too_thin, posts, words, language.",
        "aliases_families": "Per feature family: background of random pairs, calibration coefficient.",
    }
    params = PARAMS

    def compute(self, ctx: StepContext) -> Mapping[str, Any]:
        res = _run([_Source(ctx.case, _label(ctx.case), ctx.forum_id)], self, ctx.progress)[0]
        return {"aliases_candidates": res.candidates, "aliases_accounts": res.accounts,
                "aliases_families": res.families}


__all__ = ["find_aliases", "AliasResult", "AliasesStep", "CALIBRATION", "CALIBRATION_NO_RHYTHM", "Calibration",
           "FAMILIES", "PARAMS", "attribute", "build_profiles", "nearest", "calibration_rows", "fit_calibration"]
