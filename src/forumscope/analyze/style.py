"""Stylometric and rhythm features of accounts, for alias linking (:mod:`forumscope.analyze.aliases`).

Everything here is vectorised: per-account text arrives in batches (DuckDB aggregates it), and
features are computed with numpy on the whole batch at once, never post by post in Python.

Feature families (each one vector per account):

``char``
    Hashed byte n-grams (n = 2..4 by default) of the account's text, posts joined by a record
    separator (so n-grams at a post's start and end, where fillers, emoticons and sign-offs sit,
    are seen). Hashing is a polynomial rolling hash over the UTF-8 bytes (prefix sums modulo
    2**64, so every n-gram of a batch is hashed in a few numpy passes) with a splitmix64 finaliser.
``words`` and ``function_words``
    Lower-cased word tokens hashed the same way; ``words`` is the vocabulary (unigrams),
    ``function_words`` the relative frequencies of a fixed list of function words in English,
    German, Spanish and French (Mosteller & Wallace; Burrows' "most frequent words").
``punctuation``
    Punctuation and formatting habits (see :func:`habit_features`): "...", "!!", "??", emoticons,
    casing, line breaks, digits, post and word length, how posts start and end.
``rhythm``
    Hour-of-week counts of the account's posts (UTC), computed in SQL.

Example::

    >>> import numpy as np
    >>> X = byte_ngram_counts(["ab ab", "ba"], ns=(2,), n_features=2**8)
    >>> X.shape, int(X.sum())
    ((2, 256), 5)
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

# ----------------------------------------------------------------------------- hashing
_P = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so invertible modulo 2**64
_P_INV = np.uint64(pow(0x100000001B3, -1, 2**64))
_SEP = "\x1e"  # joins the posts of one account (ASCII record separator)

_ASCII_WORD = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'":
    _ASCII_WORD[_c] = True
_ASCII_WORD[0x80:] = True  # UTF-8 continuation and lead bytes: letters of other scripts


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (in place on a uint64 array)."""
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


_POW_CACHE: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**k and P**-k modulo 2**64 for k < n (cached, grown by doubling)."""
    have = _POW_CACHE.get("p")
    if have is None or len(have) < n:
        size = max(n, 2 * (0 if have is None else len(have)), 1 << 16)
        with np.errstate(over="ignore"):
            p = np.full(size, _P, dtype=np.uint64)
            p[0] = 1
            pinv = np.full(size, _P_INV, dtype=np.uint64)
            pinv[0] = 1
            _POW_CACHE["p"] = np.cumprod(p, dtype=np.uint64)
            _POW_CACHE["pinv"] = np.cumprod(pinv, dtype=np.uint64)
    return _POW_CACHE["p"][:n], _POW_CACHE["pinv"][:n]


class _Rolling:
    """Polynomial hashes of arbitrary byte ranges [s, e) of one buffer, all at once.

    hash(s, e) = sum_{k=s}^{e-1} b[k] * P**(e-1-k) = P**(e-1) * (G[e] - G[s]) with
    G[i] = sum_{k<i} b[k] * P**-k, all modulo 2**64 (numpy uint64 arithmetic wraps)."""

    def __init__(self, buf: np.ndarray):
        n = len(buf)
        self.p_pow, pinv_pow = _powers(n)
        g = np.empty(n + 1, dtype=np.uint64)
        g[0] = 0
        with np.errstate(over="ignore"):
            tmp = buf.astype(np.uint64)
            tmp += np.uint64(1)
            tmp *= pinv_pow
            np.cumsum(tmp, dtype=np.uint64, out=g[1:])
        self.g = g

    def hash(self, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            h = self.p_pow[e - 1] * (self.g[e] - self.g[s])
            h += (e - s).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # length in the hash
        return _mix(h)


def _bucket(h: np.ndarray, n_features: int) -> np.ndarray:
    bits = int(n_features).bit_length() - 1
    if 1 << bits != n_features:
        raise ValueError("n_features must be a power of two")
    return (h >> np.uint64(64 - bits)).astype(np.int64)


def _concat(encoded: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lens = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    doc = np.repeat(np.arange(len(encoded), dtype=np.int64), lens)
    return buf, doc, lens


def byte_ngram_counts(texts: Sequence[str], ns: Iterable[int] = (2, 3, 4), n_features: int = 2**18) -> sp.csr_matrix:
    """Counts of hashed byte n-grams per text (rows: texts, columns: hash buckets)."""
    encoded = [t.encode("utf-8", "replace") for t in texts]
    buf, doc, _ = _concat(encoded)
    rows, cols = [], []
    if len(buf):
        roll = _Rolling(buf)
        g, p_pow = roll.g, roll.p_pow
        for n in ns:
            m = len(buf) - n + 1
            if m <= 0:
                continue
            with np.errstate(over="ignore"):  # hash of every window [i, i+n), by slices
                h = g[n:n + m] - g[0:m]
                h *= p_pow[n - 1:n - 1 + m]
                h += np.uint64(n) * np.uint64(0x9E3779B97F4A7C15)
            ok = doc[:m] == doc[n - 1:n - 1 + m]
            rows.append(doc[:m][ok])
            cols.append(_bucket(_mix(h[ok]), n_features))
    return _csr(rows, cols, len(texts), n_features)


def _csr(rows: list[np.ndarray], cols: list[np.ndarray], n_rows: int, n_features: int) -> sp.csr_matrix:
    """Count (row, col) pairs into a CSR matrix: one sort of packed keys (uint32 when they fit,
    which numpy sorts with SIMD), then run lengths; much faster than COO -> CSR."""
    if not rows or not sum(len(r) for r in rows):
        return sp.csr_matrix((n_rows, n_features), dtype=np.float32)
    bits = int(n_features).bit_length() - 1
    dtype = np.uint32 if n_rows << bits <= 2**32 else np.uint64
    key = np.concatenate([(r.astype(dtype) << dtype(bits)) | c.astype(dtype) for r, c in zip(rows, cols)])
    key.sort()
    starts = np.flatnonzero(key[1:] != key[:-1]) + 1
    starts = np.concatenate([np.zeros(1, dtype=starts.dtype), starts])
    counts = np.diff(np.append(starts, len(key))).astype(np.float32)
    uniq = key[starts]
    row = (uniq >> dtype(bits)).astype(np.int64)
    col = (uniq & dtype(n_features - 1)).astype(np.int32)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((counts, col, indptr), shape=(n_rows, n_features))


def word_tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower-cased word tokens of each text as (doc index, start, end) into one byte buffer,
    plus their hashes: returns (doc, hashes, words_per_doc)."""
    encoded = [t.lower().encode("utf-8", "replace") for t in texts]
    buf, doc, _ = _concat(encoded)
    n_docs = len(texts)
    if not len(buf):
        return np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(n_docs, np.int64)
    isw = _ASCII_WORD[buf]
    # Unicode punctuation splits words: U+2000..U+206F (E2 80..81 xx: dashes, quotes, ellipsis,
    # bullets, spaces) and Latin-1 punctuation (C2 A0..BF: no-break space, inverted marks, guillemets).
    lead = np.flatnonzero(buf[:-1] == 0xE2)
    lead = lead[(buf[lead + 1] & 0xFE) == 0x80]
    lead = lead[lead + 2 < len(buf)]
    for k in range(3):
        isw[lead + k] = False
    lead = np.flatnonzero(buf[:-1] == 0xC2)
    lead = lead[(buf[lead + 1] >= 0xA0) & (buf[lead + 1] <= 0xBF)]
    isw[lead] = False
    isw[lead + 1] = False
    prev = np.empty_like(isw)
    prev[0] = False
    prev[1:] = isw[:-1]
    prev[1:] &= doc[1:] == doc[:-1]
    nxt = np.empty_like(isw)
    nxt[-1] = False
    nxt[:-1] = isw[1:]
    nxt[:-1] &= doc[:-1] == doc[1:]
    starts = np.flatnonzero(isw & ~prev)
    ends = np.flatnonzero(isw & ~nxt) + 1
    # strip apostrophes at word edges ("'tis", "dogs'") by not treating them specially: rare and harmless
    roll = _Rolling(buf)
    h = roll.hash(starts, ends)
    wdoc = doc[starts]
    per_doc = np.bincount(wdoc, minlength=n_docs)
    return wdoc, h, per_doc


def word_hashes(words: Sequence[str]) -> np.ndarray:
    """The hashes :func:`word_tokens` gives single (lower-case) words, one per word."""
    wdoc, h, per_doc = word_tokens(list(words))
    if np.any(per_doc != 1):
        bad = [w for w, n in zip(words, per_doc) if n != 1]
        raise ValueError(f"not single words: {bad[:5]!r}")
    out = np.empty(len(words), dtype=np.uint64)
    out[wdoc] = h
    return out


def word_counts(wdoc: np.ndarray, hashes: np.ndarray, n_docs: int, n_features: int = 2**20) -> sp.csr_matrix:
    return _csr([wdoc], [_bucket(hashes.copy(), n_features)], n_docs, n_features)


# ----------------------------------------------------------------------------- function words
# Closed-class words (articles, pronouns, prepositions, conjunctions, auxiliaries, particles).
FUNCTION_WORDS: dict[str, tuple[str, ...]] = {
    "en": tuple("""a about above after again against all also although am an and any are as at be because been
        before being below between both but by can could did do does doing down during each either enough even
        ever every few for from further had has have having he her here hers herself him himself his how however
        i if in into is it its itself just least less many may me might more most much must my myself neither
        no nor not now of off often on once only or other ought our ours ourselves out over own perhaps quite
        rather same shall she should since so some such than that the their theirs them themselves then there
        therefore these they this those though through thus to too under until up upon us very was we were what
        whatever when where whereas whether which while who whom whose why will with within without would yet
        you your yours yourself yourselves i'm don't it's can't didn't isn't doesn't won't i've i'd i'll
        that's there's""".split()),
    "de": tuple("""aber alle allem allen aller alles als also am an andere anderen auch auf aus bei beim bin bis
        bist da dabei damit dann darauf darum das dass dein deine dem den denn der des dessen deshalb die dies
        diese diesem diesen dieser dieses doch dort du durch ein eine einem einen einer eines er es etwa etwas
        euch euer für gegen gewesen hab habe haben hat hatte hätte ich ihm ihn ihnen ihr ihre im in ist ja jede
        jedem jeden jeder jetzt kann kein keine können könnte man mein meine mich mir mit muss nach nicht nichts
        noch nun nur ob oder ohne schon sehr sein seine sich sie sind so solche soll sondern sonst über um und
        uns unser unter viel vom von vor war waren warum was weil welche wenn wer werden wie wieder will wir
        wird wo wollen würde zu zum zur zwar zwischen""".split()),
    "es": tuple("""a al algo algún alguna algunas alguno algunos ante antes aquí así aun aunque bajo bien cada
        como con contra cual cuando de del desde donde durante el él ella ellas ellos en entre era eres es esa
        esas ese eso esos esta está están estas este esto estos estoy fue fueron ha había han hasta hay la las le
        les lo los más me mi mis mucho muy nada ni no nos nosotros o otra otro otros para pero poco por porque
        pues que qué quien se sea según ser si sí sido siempre sin sino sobre son su sus también tan tanto te
        tengo tiene todo todos tu tú un una uno unos ya yo""".split()),
    "fr": tuple("""à ai au aussi autre aux avec avoir ce cela ces cet cette comme dans de des donc du elle elles
        en encore est et être eu fait il ils je la le les leur lui ma mais me même mes moi mon ne ni nos notre
        nous on ou où par pas peu peut plus pour pourquoi quand que quel qui sa sans se ses si son sont sous
        sur ta te tes toi ton tous tout très tu un une vos votre vous""".split()),
}


def function_word_list() -> tuple[str, ...]:
    """All function words (every language), de-duplicated, in a fixed order."""
    seen: dict[str, None] = {}
    for words in FUNCTION_WORDS.values():
        for w in words:
            seen.setdefault(w, None)
    return tuple(seen)


# ----------------------------------------------------------------------------- habits
def _byte_mask(chars: bytes) -> np.ndarray:
    m = np.zeros(256, dtype=bool)
    m[list(chars)] = True
    return m


_UPPER = _byte_mask(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LOWER = _byte_mask(b"abcdefghijklmnopqrstuvwxyz")
_ALNUM = _UPPER | _LOWER | _byte_mask(b"0123456789")
_SPACE = _byte_mask(b" \t\r\n")
_EMO_END = _byte_mask(b")(DPpO/|3]*^")
_EMO_EYES = _byte_mask(b":;=8xX^-_")
_RATES: dict[str, bytes] = {  # per 100 bytes of text
    "exclaim_rate": b"!", "question_rate": b"?", "comma_rate": b",", "period_rate": b".",
    "digit_rate": b"0123456789", "upper_rate": b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "newline_rate": b"\n",
    "paren_rate": b"()[]", "quote_rate": b'"', "apostrophe_rate": b"'", "dash_rate": b"-",
    "colon_semicolon_rate": b":;", "symbol_rate": b"*#&%$@/~^_+=<>|\\", "tilde_star_rate": b"~*",
}
HABITS: tuple[str, ...] = tuple(_RATES) + (
    "non_ascii_rate", "double_space_rate", "space_before_punct_rate", "double_exclaim_rate",
    "double_question_rate", "ellipsis_rate", "log_post_bytes", "log_words_per_post", "mean_word_len",
    "ends_period", "ends_ellipsis", "ends_exclaim_question", "ends_alnum", "ends_emoticon",
    "starts_lower", "starts_upper", "all_lower", "has_newline", "short_last_line",
)
"""Punctuation and formatting habits, one value per account (see :func:`habit_features`)."""


def habit_features(texts: Sequence[str], sep: str = _SEP) -> np.ndarray:
    """Punctuation and formatting habits of each text (posts joined by ``sep``), as
    (len(texts), len(HABITS)): character rates per 100 bytes ("!", "?", digits, capitals, line
    breaks...), doubled marks and "..." per post, mean post and word length, and the share of
    posts ending in ".", "...", "!"/"?", a letter or an emoticon-like sign, starting in lower or
    upper case, all in lower case, with a line break, or with a short last line (a sign-off)."""
    n = len(texts)
    out = np.zeros((n, len(HABITS)), dtype=np.float64)
    if n == 0:
        return out
    buf, doc, lens = _concat([t.encode("utf-8", "replace") for t in texts])
    nbytes = np.maximum(lens, 1).astype(np.float64)
    col = 0

    def per_doc(mask: np.ndarray) -> np.ndarray:
        return np.bincount(doc[mask], minlength=n).astype(np.float64)

    # one histogram of byte values per text gives every character rate (one pass over the bytes)
    hist = np.bincount(doc.astype(np.int64) * 256 + buf, minlength=n * 256).reshape(n, 256).astype(np.float64)
    for chars in _RATES.values():
        out[:, col] = hist[:, _byte_mask(chars)].sum(axis=1) * 100.0 / nbytes
        col += 1
    out[:, col] = hist[:, 0xC0:].sum(axis=1) * 100.0 / nbytes  # non-ASCII characters (UTF-8 lead bytes)
    col += 1
    same = doc[1:] == doc[:-1]
    pair = lambda a, b: np.concatenate([(buf[:-1] == a) & (buf[1:] == b) & same, [False]])  # noqa: E731
    out[:, col] = per_doc(pair(32, 32)) * 100.0 / nbytes
    col += 1
    sp_punct = np.concatenate([(buf[:-1] == 32) & _byte_mask(b",.!?;:")[buf[1:]] & same, [False]])
    out[:, col] = per_doc(sp_punct) * 100.0 / nbytes
    col += 1
    # posts: split at the separator and at text boundaries
    sepb = ord(sep)
    is_sep = buf == sepb
    doc_start = np.concatenate([[0], np.cumsum(lens)[:-1]])
    starts = np.sort(np.concatenate([doc_start, np.flatnonzero(is_sep) + 1]))
    ends = np.sort(np.concatenate([doc_start + lens, np.flatnonzero(is_sep)]))
    # a text of length 0 has one empty post; drop empty posts
    ok = ends > starts
    starts, ends = starts[ok], ends[ok]
    pdoc = np.searchsorted(doc_start, starts, side="right") - 1
    # trim trailing spaces of each post for the end-of-post habits
    last = ends - 1
    for _ in range(3):
        move = (last > starts) & _SPACE[buf[last]]
        last = last - move
    first = starts.copy()
    for _ in range(3):
        move = (first < last) & _SPACE[buf[first]]
        first = first + move
    n_posts = np.maximum(np.bincount(pdoc, minlength=n), 1).astype(np.float64)

    def share(flag: np.ndarray) -> np.ndarray:
        return np.bincount(pdoc, weights=flag.astype(np.float64), minlength=n) / n_posts

    prev1 = np.where(last - 1 >= starts, buf[np.maximum(last - 1, 0)], 32)
    prev2 = np.where(last - 2 >= starts, buf[np.maximum(last - 2, 0)], 32)
    lb = buf[last]
    for a, b in ((33, 33), (63, 63)):
        out[:, col] = per_doc(pair(a, b)) / n_posts
        col += 1
    out[:, col] = per_doc(pair(46, 46) & np.concatenate([buf[2:] == 46, [False, False]])) / n_posts
    col += 1
    post_len = (ends - starts).astype(np.float64)
    out[:, col] = np.log1p(np.bincount(pdoc, weights=post_len, minlength=n) / n_posts)
    col += 1
    isw = _ASCII_WORD[buf] & (buf != 39)
    wstart = isw & ~np.concatenate([[False], isw[:-1] & same])
    words = per_doc(wstart)
    out[:, col] = np.log1p(words / n_posts)
    col += 1
    out[:, col] = per_doc(isw) / np.maximum(words, 1)
    col += 1
    out[:, col] = share((lb == 46) & (prev1 != 46))
    col += 1
    out[:, col] = share((lb == 46) & (prev1 == 46))
    col += 1
    out[:, col] = share((lb == 33) | (lb == 63))
    col += 1
    out[:, col] = share(_ALNUM[lb] & ~((prev1 == 32) & (lb == 68)))
    col += 1
    emo = _EMO_END[lb] & (_EMO_EYES[prev1] | (_EMO_EYES[prev2] & (prev1 == 45)))
    emo |= (lb == 51) & (prev1 == 60)  # <3
    out[:, col] = share(emo)
    col += 1
    fb = buf[first]
    out[:, col] = share(_LOWER[fb])
    col += 1
    out[:, col] = share(_UPPER[fb])
    col += 1
    pid = np.cumsum(np.concatenate([[0], (is_sep[:-1] | (doc[1:] != doc[:-1]))]))  # post number per byte
    upper_in_post = np.bincount(pid[_UPPER[buf]], minlength=int(pid[-1]) + 1)
    lower_in_post = np.bincount(pid[_LOWER[buf]], minlength=int(pid[-1]) + 1)
    # map kept posts to their byte-based post number
    pnum = pid[starts.clip(max=len(buf) - 1)]
    out[:, col] = share((upper_in_post[pnum] == 0) & (lower_in_post[pnum] > 0))
    col += 1
    nl_in_post = np.bincount(pid[buf == 10], minlength=int(pid[-1]) + 1)
    out[:, col] = share(nl_in_post[pnum] > 0)
    col += 1
    # short last line: a line break within the last 25 bytes of the post, after at least 10 bytes
    nlpos = np.flatnonzero(buf == 10)
    idx = np.searchsorted(nlpos, last, side="right") - 1
    has = idx >= 0
    lnl = np.where(has, nlpos[np.maximum(idx, 0)], -1) if len(nlpos) else np.full(len(last), -1)
    out[:, col] = share(has & (lnl >= starts + 10) & (last - lnl <= 25) & (last - lnl >= 2))
    col += 1
    assert col == len(HABITS)
    return out


def hour_of_week_sql(post_query: str) -> str:
    """SQL: counts per account and UTC hour of week (0 = Monday 00:00) over ``post_query`` (acc, ts)."""
    return (f"SELECT acc, (isodow(ts) - 1) * 24 + hour(ts) AS how, count(*) AS n FROM ({post_query}) "
            "WHERE ts IS NOT NULL GROUP BY ALL")


def rhythm_vectors(counts: np.ndarray, sigma_hours: float = 1.0) -> np.ndarray:
    """Hour-of-week counts (accounts x 168) -> unit vectors of square-root probabilities.

    The counts are smoothed circularly over neighbouring hours (Gaussian, ``sigma_hours``) and
    mixed half and half with the account's hour-of-day profile spread over the seven days (so a
    member with few posts borrows strength across weekdays). The dot product of two such vectors
    is the Bhattacharyya coefficient of the two activity distributions (1 = identical)."""
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.shape[0]
    if sigma_hours > 0:
        offs = np.arange(-3 * int(np.ceil(sigma_hours)), 3 * int(np.ceil(sigma_hours)) + 1)
        kern = np.exp(-0.5 * (offs / sigma_hours) ** 2)
        kern /= kern.sum()
        sm = np.zeros_like(counts)
        for o, k in zip(offs, kern):
            sm += k * np.roll(counts, o, axis=1)
    else:
        sm = counts
    day = sm.reshape(n, 7, 24).sum(axis=1, keepdims=True) / 7.0
    mix = 0.5 * sm + 0.5 * np.broadcast_to(day, (n, 7, 24)).reshape(n, 168)
    tot = mix.sum(axis=1, keepdims=True)
    p = np.divide(mix, tot, out=np.full_like(mix, 1.0 / 168), where=tot > 0)
    return np.sqrt(p).astype(np.float32)
