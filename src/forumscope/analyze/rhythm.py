"""Rhythm: hour-of-week activity profiles and time-zone leads for the crowd and for members.

Everything here is an **investigative lead, never an identification** (SAFETY.md): shares come
with bootstrap intervals, member estimates with a full posterior and the number of events they
rest on, and are only made above a minimum amount of data. The method, the reference curve's
provenance, validation numbers and the limits are in docs/analyses/rhythm.md.

* **Profiles** (``rhythm_profiles``): posts per UTC hour of week (``how`` = (ISO weekday - 1) * 24
  + hour, Monday 00:00-00:59 UTC = 0) for the forum, each board, each declared language and each
  member with at least ``profile_min_events`` posts. One GROUP BY GROUPING SETS over posts.
* **Model.** A member at UTC offset *o* with a personal chronotype deviation *d* (hours) is active
  at UTC hour of week *u* as the local-time reference curve *R* is at local hour *u + o - d*
  (:mod:`forumscope.analyze.rhythm_reference`; or the forum's own curve, calibrated on members who
  declare their zone). The data are a member's distinct active UTC hours; the log-likelihood of
  every half-hour shift for every member is one sparse matrix product over counts that DuckDB
  aggregates per (member, season, hour of week), a season being a stretch of time in which every
  candidate zone keeps one UTC offset.
* **Crowd** (``rhythm_crowd``, after La Morgia et al. 2018): members with at least
  ``crowd_min_events`` posts as a mixture over whole-hour offsets -12..+14 of the shifted curve;
  shares by EM (SQUAREM-accelerated), uncertainty from ``n_boot`` seeded bootstrap resamples of
  members. Per forum and per members' main declared language.
* **Members** (``rhythm_members``, ``rhythm_member_offsets``, ``rhythm_member_zones``): for members
  with at least ``min_events`` timestamped posts, the posterior over offsets (chronotype
  marginalised; prior: part uniform, part the forum's crowd shares), DST evidence (EU, US or
  southern summer-time dates against none, each with its base offset marginalised) and candidate
  IANA zones scored with their DST-aware offsets at each active hour. Below the threshold: status
  ``insufficient data`` and no estimate.

Example::

    from forumscope.pipeline.runner import run_steps
    (rec,) = run_steps(case, ["rhythm"], {"rhythm": {"min_events": 30, "n_boot": 50}})
    case.sql("SELECT user_id, status, offset_1, p_offset_1, zone_1, note FROM rhythm_members "
             "WHERE run_id = ?", [rec.run_id])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa

from forumscope.analyze.rhythm_reference import DEFAULT_REFERENCE, HOURS_OF_WEEK, Reference, load_reference
from forumscope.pipeline.step import Param, Step, StepContext
from forumscope.store.sql import main_language_sql

OFFSETS = np.arange(-12, 15)  # whole-hour UTC offsets of the crowd mixture and the member posterior
CHRONO = np.arange(-4, 5)  # chronotype deviations marginalised (hours)
HALF = 2  # shift grid resolution: half hours (for zones such as Asia/Kolkata, UTC+5:30)
_SHIFT_MIN, _SHIFT_MAX = -18.0, 20.0  # covers offsets -12..+14 with DST +-1 and d in -4..4
SHIFTS = np.arange(_SHIFT_MIN * HALF, _SHIFT_MAX * HALF + 1) / HALF

NOTE = ("Lead, not identification: a statistical estimate from posting times alone, resting on the "
        "number of events shown; travel, shift work, irregular sleep, shared or scheduled accounts and "
        "equal-offset zones all mislead it. Corroborate before use.")

# Candidate zones scored per member: one representative per (standard offset, DST rule) class.
# Zones in one class are indistinguishable from posting times (see docs/analyses/rhythm.md).
CANDIDATE_ZONES: dict[str, str] = {
    "Pacific/Honolulu": "UTC-10, no DST (Hawaii)",
    "America/Anchorage": "UTC-9, US DST (Alaska)",
    "America/Los_Angeles": "UTC-8, US DST (US/Canada Pacific)",
    "America/Denver": "UTC-7, US DST (US/Canada Mountain)",
    "America/Phoenix": "UTC-7, no DST (Arizona; also Sonora)",
    "America/Chicago": "UTC-6, US DST (US/Canada Central)",
    "America/Mexico_City": "UTC-6, no DST since 2022 (most of Mexico; Central America)",
    "America/New_York": "UTC-5, US DST (US/Canada Eastern)",
    "America/Bogota": "UTC-5, no DST (Colombia, Peru, Ecuador, Panama)",
    "America/Halifax": "UTC-4, US DST (Canada Atlantic)",
    "America/Caracas": "UTC-4, no DST (Venezuela, Bolivia, Caribbean)",
    "America/Santiago": "UTC-4, southern DST (Chile)",
    "America/Sao_Paulo": "UTC-3, southern DST until 2019 (Brazil south-east)",
    "America/Argentina/Buenos_Aires": "UTC-3, no DST (Argentina, Uruguay)",
    "UTC": "UTC+0, no DST (also West Africa: Abidjan, Accra, Dakar; Iceland)",
    "Europe/London": "UTC+0, EU DST (United Kingdom, Ireland, Portugal)",
    "Africa/Lagos": "UTC+1, no DST (West-central Africa)",
    "Europe/Berlin": "UTC+1, EU DST (Central Europe: Berlin, Paris, Madrid, Rome, Amsterdam, Warsaw, ...)",
    "Africa/Johannesburg": "UTC+2, no DST (Southern Africa; Egypt before 2023)",
    "Europe/Helsinki": "UTC+2, EU DST (Eastern Europe: Helsinki, Kyiv, Bucharest, Athens, ...)",
    "Europe/Moscow": "UTC+3, no DST since 2014 (Moscow, Istanbul, East Africa, Arabia)",
    "Asia/Tehran": "UTC+3:30, DST until 2022 (Iran)",
    "Asia/Dubai": "UTC+4, no DST (Gulf, Caucasus)",
    "Asia/Karachi": "UTC+5, no DST (Pakistan, Central Asia)",
    "Asia/Kolkata": "UTC+5:30, no DST (India, Sri Lanka)",
    "Asia/Dhaka": "UTC+6, no DST (Bangladesh)",
    "Asia/Bangkok": "UTC+7, no DST (Indochina, western Indonesia)",
    "Asia/Shanghai": "UTC+8, no DST (China, Singapore, Philippines, Western Australia)",
    "Asia/Tokyo": "UTC+9, no DST (Japan, Korea)",
    "Australia/Adelaide": "UTC+9:30, southern DST (South Australia)",
    "Australia/Brisbane": "UTC+10, no DST (Queensland; Guam)",
    "Australia/Sydney": "UTC+10, southern DST (New South Wales, Victoria, Tasmania, ACT)",
    "Pacific/Auckland": "UTC+12, southern DST (New Zealand)",
}

# Northern summer (April-September: inside both the EU and the US DST periods) and northern winter
# (December-February: outside both, inside the southern DST period): the members' active hours in
# each are reported beside the DST evidence, as the data it rests on.
_NORTH_SUMMER_MONTHS = (4, 5, 6, 7, 8, 9)
_NORTH_WINTER_MONTHS = (12, 1, 2)
PERIOD_OTHER, PERIOD_SUMMER, PERIOD_WINTER = 0, 1, 2


# --------------------------------------------------------------------------------------------------
# Seasons: stretches of UTC time in which every candidate zone keeps one offset
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seasons:
    """UTC intervals [starts[i], starts[i+1]) with one offset per zone in each; ``season[i]`` names the
    combination (offsets of all zones + northern summer/winter/other), shared by intervals that repeat."""

    starts: np.ndarray  # epoch seconds, int64, sorted
    season: np.ndarray  # season id per interval
    offsets: np.ndarray  # (seasons, zones) UTC offset in hours
    period: np.ndarray  # (seasons,) PERIOD_OTHER / PERIOD_SUMMER / PERIOD_WINTER
    zones: tuple[str, ...]


def _offset_h(tz: ZoneInfo, ts: int) -> float:
    return datetime.fromtimestamp(ts, tz).utcoffset().total_seconds() / 3600.0


def _transitions(zone: str, t0: int, t1: int) -> list[int]:
    """Epoch seconds (on whole hours) at which ``zone``'s offset changes in (t0, t1]."""
    tz = ZoneInfo(zone)
    out = []
    step = 7 * 86400  # no zone in the candidate list changes its offset twice within a week
    a, oa = t0, _offset_h(tz, t0)
    while a < t1:
        b = min(a + step, t1)
        ob = _offset_h(tz, b)
        if ob != oa:
            lo, hi = a, b  # offset(lo) == oa, offset(hi) != oa; find the first hour with the new offset
            while hi - lo > 3600:
                mid = lo + ((hi - lo) // 7200) * 3600
                if _offset_h(tz, mid) == oa:
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
            a, oa = hi, _offset_h(tz, hi)
            continue
        a, oa = b, ob
    return out


def _month_starts(t0: int, t1: int) -> list[int]:
    d = datetime.fromtimestamp(t0, timezone.utc)
    y, m = d.year, d.month
    out = []
    while True:
        m += 1
        if m > 12:
            y, m = y + 1, 1
        ts = int(datetime(y, m, 1, tzinfo=timezone.utc).timestamp())
        if ts > t1:
            return out
        out.append(ts)


def _period(ts: int) -> int:
    month = datetime.fromtimestamp(ts, timezone.utc).month
    if month in _NORTH_SUMMER_MONTHS:
        return PERIOD_SUMMER
    if month in _NORTH_WINTER_MONTHS:
        return PERIOD_WINTER
    return PERIOD_OTHER


def build_seasons(t0: int, t1: int, zones: Sequence[str]) -> Seasons:
    """Seasons covering [t0, t1] (epoch seconds) for ``zones`` (zoneinfo; a handful of look-ups per zone-year)."""
    t0 = (int(t0) // 3600) * 3600
    t1 = max(int(t1), t0 + 3600)
    cuts = {t0}
    for z in zones:
        cuts.update(_transitions(z, t0, t1))
    cuts.update(_month_starts(t0, t1))
    starts = np.array(sorted(c for c in cuts if c <= t1), dtype=np.int64)
    tzs = [ZoneInfo(z) for z in zones]
    keys: dict[tuple, int] = {}
    season = np.empty(len(starts), dtype=np.int64)
    rows: list[tuple] = []
    for i, s in enumerate(starts):
        key = (tuple(_offset_h(tz, int(s)) for tz in tzs), _period(int(s)))
        if key not in keys:
            keys[key] = len(keys)
            rows.append(key)
        season[i] = keys[key]
    offsets = np.array([r[0] for r in rows], dtype=float).reshape(len(rows), len(zones))
    period = np.array([r[1] for r in rows], dtype=np.int64)
    return Seasons(starts, season, offsets, period, tuple(zones))


# --------------------------------------------------------------------------------------------------
# Likelihoods
# --------------------------------------------------------------------------------------------------


def shifted_log_curves(curve: np.ndarray, shifts: np.ndarray = SHIFTS) -> np.ndarray:
    """(168, K): log probability of UTC hour of week *u* for a member whose local time is UTC + shift.

    A whole shift *k* gives ``curve[(u + k) % 168]``; a half shift averages the two local bins the
    UTC hour straddles.
    """
    u = np.arange(HOURS_OF_WEEK)[:, None]
    lo = np.floor(shifts).astype(np.int64)[None, :]
    frac = (shifts - np.floor(shifts))[None, :]
    p = curve[(u + lo) % HOURS_OF_WEEK] * (1 - frac) + curve[(u + lo + 1) % HOURS_OF_WEEK] * frac
    return np.log(p)


def chronotype_log_weights(sd: float) -> np.ndarray:
    """log prior of the chronotype deviations CHRONO: a discrete normal with standard deviation ``sd``."""
    if sd <= 0:
        w = (CHRONO == 0).astype(float)
    else:
        w = np.exp(-0.5 * (CHRONO / sd) ** 2)
    w = w / w.sum()
    with np.errstate(divide="ignore"):
        return np.log(w)


def _shift_index(hours: np.ndarray | float) -> np.ndarray:
    return np.rint((np.asarray(hours, dtype=float) - _SHIFT_MIN) * HALF).astype(np.int64)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def marginal_offset_loglik(ll_shift: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """(members, offsets): log sum_d w_d exp(LL(shift = o - d)) from (members, K) shift log-likelihoods."""
    idx = _shift_index(OFFSETS[:, None] - CHRONO[None, :])  # (O, D)
    g = ll_shift[:, idx] + log_w[None, None, :]  # (M, O, D)
    return _logsumexp(g, axis=2)


# --------------------------------------------------------------------------------------------------
# Crowd mixture: EM over members, bootstrap over members
# --------------------------------------------------------------------------------------------------


def _lik_matrix(loglik: np.ndarray) -> np.ndarray:
    """Per-member likelihoods scaled so each row's maximum is 1; values below 1e-100 are set to 0
    (they cannot matter, and denormal numbers would slow every matrix product down a hundredfold)."""
    L = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    L[L < 1e-100] = 0.0
    return L


def _em_step(pi: np.ndarray, L: np.ndarray, LT: np.ndarray, W: np.ndarray, tot: np.ndarray,
             want_ll: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """One EM update of the shares (B, O); with ``want_ll`` also the weighted log-likelihood (B,) at the
    input shares. ``LT`` is L transposed and contiguous (a much faster matrix product)."""
    dens = np.maximum(pi @ LT, np.finfo(LT.dtype).tiny)  # (B, M)
    new = pi * ((W / dens) @ L) / tot
    return new, (np.einsum("bm,bm->b", W, np.log(dens)) if want_ll else None)


def fit_mixture(loglik: np.ndarray, *, weights: np.ndarray | None = None, init: np.ndarray | None = None,
                max_iter: int = 2000, tol: float = 1e-7, dtype: Any = np.float64) -> tuple[np.ndarray, int]:
    """Maximum-likelihood shares over offsets given per-member log-likelihoods (members, offsets).

    EM (the share update of a finite mixture with fixed components), accelerated with SQUAREM
    (Varadhan & Roland 2008) and falling back to the plain EM step whenever the extrapolation does
    not improve the likelihood. ``weights`` (B, members) fits B weighted problems at once (bootstrap
    multiplicities); returns the shares (B, offsets) - or (offsets,) without weights - and the
    number of EM steps used. ``dtype`` float32 halves the cost (used for bootstrap refits).
    """
    L = _lik_matrix(loglik).astype(dtype)
    single = weights is None
    W = np.ones((1, L.shape[0]), dtype=dtype) if single else np.asarray(weights, dtype=dtype)
    n_o = L.shape[1]
    if init is None:
        pi = np.full((W.shape[0], n_o), 1.0 / n_o, dtype=dtype)
    else:
        pi = np.array(np.broadcast_to(init, (W.shape[0], n_o)), dtype=dtype)
    tot = W.sum(axis=1, keepdims=True)
    LT = np.ascontiguousarray(L.T)
    steps = 0
    while steps < max_iter:
        p1, ll0 = _em_step(pi, L, LT, W, tot, True)
        p2, _ = _em_step(p1, L, LT, W, tot)
        r, v = p1 - pi, p2 - 2 * p1 + pi
        nr, nv = np.sqrt((r ** 2).sum(axis=1)), np.sqrt((v ** 2).sum(axis=1))
        alpha = np.where(nv > 0, -nr / np.where(nv > 0, nv, 1), -1.0)
        alpha = np.minimum(alpha, -1.0)[:, None]
        pe = pi - 2 * alpha * r + alpha ** 2 * v
        bad = (pe < 0).any(axis=1) | ~np.isfinite(pe).all(axis=1)
        pe[bad] = p2[bad]
        pe /= pe.sum(axis=1, keepdims=True)
        p3, ll_e = _em_step(pe, L, LT, W, tot, True)
        worse = ll_e < ll0 - 1e-9 * np.abs(ll0)
        p3[worse] = p2[worse]
        steps += 3
        delta = np.max(np.abs(p3 - pi))
        pi = p3
        if delta < tol:
            break
    pi = pi.astype(np.float64)
    pi /= pi.sum(axis=1, keepdims=True)
    return (pi[0] if single else pi), steps


def bootstrap_mixture(loglik: np.ndarray, pi_hat: np.ndarray, n_boot: int, seed: int, *,
                      batch: int = 100, max_iter: int = 15, tol: float = 1e-4) -> np.ndarray:
    """(n_boot, offsets): shares refitted on members resampled with replacement.

    Each resample starts from one constrained Newton step away from the full-data solution (the
    full-data Hessian, the resample's gradient, shares kept on the simplex) and is then refitted
    with at most ``max_iter`` accelerated EM steps. Offsets with no share in the full fit (< 1e-9)
    keep none (EM cannot move mass onto them from a warm start), so they are left out of the refits.
    """
    rng = np.random.default_rng(seed)
    m = loglik.shape[0]
    active = np.flatnonzero(pi_hat >= 1e-9)
    out = np.zeros((n_boot, len(pi_hat)))
    init = pi_hat[active] / pi_hat[active].sum()
    L = _lik_matrix(loglik[:, active])
    dens = np.maximum(L @ init, 1e-300)
    Ld = L / dens[:, None]
    k = len(active)
    K = np.zeros((k + 1, k + 1))
    K[:k, :k] = -(Ld.T @ Ld)
    K[:k, k] = K[k, :k] = 1.0
    Kinv = np.linalg.pinv(K)
    for start in range(0, n_boot, batch):
        b = min(batch, n_boot - start)
        w = rng.multinomial(m, np.full(m, 1.0 / m), size=b)
        grad = w @ Ld  # (b, k): gradient of the resample's log-likelihood at the full-data shares
        rhs = np.hstack([-grad, np.zeros((b, 1))])
        step = (rhs @ Kinv.T)[:, :k]
        start_pi = np.maximum(init[None, :] + step, 1e-6 * init[None, :])
        start_pi /= start_pi.sum(axis=1, keepdims=True)
        pis, _ = fit_mixture(loglik[:, active], weights=w, init=start_pi, max_iter=max_iter, tol=tol,
                             dtype=np.float32)
        out[start:start + b, active] = pis
    return out


# --------------------------------------------------------------------------------------------------
# Per-member data and evidence
# --------------------------------------------------------------------------------------------------


@dataclass
class MemberHours:
    """Active-hour counts of a set of members, by (member, season) row and UTC hour of week."""

    members: np.ndarray  # (M,) member ids
    row_member: np.ndarray  # (R,) member index of each row
    row_season: np.ndarray  # (R,) season id of each row
    counts: Any  # scipy.sparse CSR (R, 168)
    P: Any  # scipy.sparse CSR (M, R): member <- rows

    @property
    def hours(self) -> np.ndarray:
        return np.asarray(self.P @ np.asarray(self.counts.sum(axis=1)).ravel()).ravel()

    def utc_counts(self) -> Any:
        """(M, 168) sparse: active hours per UTC hour of week."""
        return (self.P @ self.counts).tocsr()

    @cached_property
    def season_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows ordered by season (``order``) and where each season's run starts and ends (``bounds``)."""
        order = np.argsort(self.row_season, kind="stable")
        s = self.row_season[order]
        return order, np.flatnonzero(np.r_[True, s[1:] != s[:-1], True]) if len(s) else np.zeros(1, np.int64)


def member_hours(author: np.ndarray, season: np.ndarray, how: np.ndarray, n: np.ndarray) -> MemberHours:
    """From rows (member, season, how, count) sorted by member then season."""
    from scipy import sparse

    new_row = np.r_[True, (author[1:] != author[:-1]) | (season[1:] != season[:-1])]
    row = np.cumsum(new_row) - 1
    n_rows = int(row[-1]) + 1 if len(row) else 0
    first = np.flatnonzero(new_row)
    row_author = author[first]
    new_member = np.r_[True, row_author[1:] != row_author[:-1]] if n_rows else np.zeros(0, bool)
    row_member = np.cumsum(new_member) - 1
    members = row_author[new_member]
    counts = sparse.csr_matrix((np.asarray(n, float), (row, how)), shape=(n_rows, HOURS_OF_WEEK))
    P = sparse.csr_matrix((np.ones(n_rows), (row_member, np.arange(n_rows))), shape=(len(members), n_rows))
    return MemberHours(members, row_member, season[first], counts, P)


def shift_loglik_rows(mh: MemberHours, logc: np.ndarray) -> np.ndarray:
    """(R, K) log-likelihood of each (member, season) row's hours under every shift of the grid."""
    return np.asarray(mh.counts @ logc)


def offset_loglik(mh: MemberHours, ll_rows: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """(M, O) log-likelihood of each whole-hour offset (one offset all year), chronotype marginalised."""
    return marginal_offset_loglik(np.asarray(mh.P @ ll_rows), log_w)


def gather_by_season(mh: MemberHours, ll_rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(R, J): ``ll_rows[r, idx[season of row r]]`` for an index vector per season (``idx``: seasons x J).

    The rows of one season are read with one column selection: the same values as
    ``np.take_along_axis(ll_rows, idx[mh.row_season], axis=1)``, without an index per cell."""
    order, bounds = mh.season_groups
    out = np.empty((ll_rows.shape[0], idx.shape[1]), dtype=ll_rows.dtype)
    for a, b in zip(bounds[:-1], bounds[1:]):
        rows = order[a:b]
        out[rows] = ll_rows[rows][:, idx[mh.row_season[rows[0]]]]
    return out


# DST regimes tested per member: the zone whose rules define the dates, and its standard offset.
DST_REGIMES = {"eu": ("Europe/Berlin", 1.0), "us": ("America/New_York", -5.0), "southern": ("Australia/Sydney", 10.0)}
DST_DECISIVE = 2.0  # log Bayes factor (about 7:1) needed to name a DST pattern


def dst_evidence(mh: MemberHours, ll_rows: np.ndarray, seasons: Seasons, sel: np.ndarray) -> dict[str, np.ndarray]:
    """For members ``sel`` (indices): log marginal likelihoods of four DST regimes and support counts.

    Regime *none*: one UTC offset all year. Regimes *eu*, *us*, *southern*: the offset is an hour
    later while Europe/Berlin, America/New_York or Australia/Sydney keep summer time (their exact
    transition dates). The base offset is marginalised with a flat prior over -12..+14 in half
    hours, so the regimes compete on the *shift* at the regime's dates, not on the offset.
    """
    base = np.arange(-12.0, 14.5, 0.5)
    P = mh.P[sel]
    out = {}
    for name, (zone, std) in (("none", (None, 0.0)), *DST_REGIMES.items()):
        delta = (np.zeros(len(seasons.offsets)) if zone is None
                 else seasons.offsets[:, seasons.zones.index(zone)] - std)  # per season
        idx = _shift_index(base[None, :] + delta[:, None])  # (seasons, B)
        ll = np.asarray(P @ gather_by_season(mh, ll_rows, idx))  # (M, B)
        out[name] = _logsumexp(ll, axis=1) - np.log(len(base))
    per = seasons.period[mh.row_season]
    hours_rows = np.asarray(mh.counts.sum(axis=1)).ravel()
    for name, code in (("summer", PERIOD_SUMMER), ("winter", PERIOD_WINTER)):
        out["hours_" + name] = np.asarray(P @ (hours_rows * (per == code))).ravel()
    return out


def dst_pattern(ev: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pattern, rule hint, log BF northern vs none, log BF southern vs none) per member.

    pattern: 'northern' when the better of the EU and US regimes beats both *none* and *southern*
    by DST_DECISIVE; 'southern' likewise; 'none' when *none* beats every DST regime by DST_DECISIVE;
    otherwise 'undetermined'. The hint names EU or US dates when one beats the other decisively.
    """
    north = np.logaddexp(ev["eu"], ev["us"]) - np.log(2)
    bf_n, bf_s = north - ev["none"], ev["southern"] - ev["none"]
    pattern = np.full(len(north), "undetermined", dtype=object)
    pattern[(bf_n >= DST_DECISIVE) & (north - ev["southern"] >= DST_DECISIVE)] = "northern"
    pattern[(bf_s >= DST_DECISIVE) & (ev["southern"] - north >= DST_DECISIVE)] = "southern"
    pattern[(bf_n <= -DST_DECISIVE) & (bf_s <= -DST_DECISIVE)] = "none"
    hint = np.full(len(north), None, dtype=object)
    north_mask = pattern == "northern"
    hint[north_mask & (ev["eu"] - ev["us"] >= DST_DECISIVE)] = "EU dates"
    hint[north_mask & (ev["us"] - ev["eu"] >= DST_DECISIVE)] = "US dates"
    return pattern, hint, bf_n, bf_s


def zone_loglik(mh: MemberHours, ll_rows: np.ndarray, seasons: Seasons, sel: np.ndarray,
                log_w: np.ndarray, n_zones: int | None = None) -> np.ndarray:
    """(len(sel), zones): log-likelihood of each candidate zone (the first ``n_zones`` of the seasons'
    zones), with its offset at each active hour (DST-aware via the seasons), the chronotype marginalised."""
    P = mh.P[sel]
    n_zones = len(seasons.zones) if n_zones is None else n_zones
    out = np.empty((len(sel), n_zones))
    for zi in range(n_zones):
        shift = seasons.offsets[:, zi][:, None] - CHRONO[None, :]  # (seasons, D)
        g = gather_by_season(mh, ll_rows, _shift_index(shift))
        out[:, zi] = _logsumexp(np.asarray(P @ g) + log_w[None, :], axis=1)
    return out


def _credible_interval(post: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Narrowest contiguous run of offsets holding at least ``level`` of each row's posterior."""
    n = post.shape[1]
    c = np.concatenate([np.zeros((post.shape[0], 1)), np.cumsum(post, axis=1)], axis=1)
    best_lo = np.zeros(post.shape[0], dtype=np.int64)
    best_hi = np.full(post.shape[0], n - 1)
    best_w = np.full(post.shape[0], n + 1)
    for width in range(1, n + 1):
        mass = c[:, width:] - c[:, :-width]  # (rows, n - width + 1): runs [i, i + width)
        i = np.argmax(mass, axis=1)
        ok = (mass[np.arange(len(i)), i] >= level - 1e-12) & (best_w > n)
        best_lo[ok], best_hi[ok], best_w[ok] = i[ok], i[ok] + width - 1, width
    return OFFSETS[best_lo], OFFSETS[best_hi]


# --------------------------------------------------------------------------------------------------
# Calibration on members who declare their zone
# --------------------------------------------------------------------------------------------------

CALIBRATION_PRIOR_HOURS = 500.0  # weight (in active hours) of the reference in a calibrated curve
CALIBRATION_CAP = 40.0  # a declaring member contributes at most this many active hours' worth


def parse_declared_zone(text: Any) -> str | None:
    """An IANA zone for a declared time zone: an IANA name, or a whole-hour offset ('UTC+2', '-05:00',
    'GMT'); None for anything else (half-hour offsets, free text)."""
    if not isinstance(text, str) or not text.strip():
        return None
    t = text.strip()
    if t.upper() in ("UTC", "GMT", "Z", "UTC+0", "GMT+0", "+00:00", "0"):
        return "UTC"
    m = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", t, flags=re.IGNORECASE)
    if m:
        h, mins = int(m.group(2)), int(m.group(3) or 0)
        if mins or h > 14:
            return None
        return "UTC" if h == 0 else f"Etc/GMT{'-' if m.group(1) == '+' else '+'}{h}"
    if "/" not in t and t != "UTC":
        return None
    try:
        ZoneInfo(t)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return t


def calibrated_curve(declared: Any, ref: Reference) -> np.ndarray:
    """The forum's own local-time curve from its members' declared zones, shrunk towards the reference.

    ``declared``: rows (user_id, zone, hr) of distinct active UTC hours. Local hours of week use each
    zone's DST rules; every member counts at most CALIBRATION_CAP hours; the reference adds
    CALIBRATION_PRIOR_HOURS pseudo-hours. Unlike the shipped reference, the day-time shape and the day
    levels are kept: they come from this forum.
    """
    import pandas as pd

    from forumscope.analyze.rhythm_reference import curve_from_histogram, local_hour_of_week, user_weights

    how = local_hour_of_week(declared["hr"].to_numpy(), declared["zone"].to_numpy())
    codes = pd.factorize(declared["user_id"])[0]
    hist = np.bincount(how, weights=user_weights(codes, CALIBRATION_CAP), minlength=HOURS_OF_WEEK)
    hist = hist + CALIBRATION_PRIOR_HOURS * ref.curve
    return curve_from_histogram(hist, smooth=1.0, floor=0.02, day_levels=True, clip_quantile=None)


# --------------------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------------------


class RhythmStep(Step):
    name = "rhythm"
    description = ("Hour-of-week activity profiles (UTC); crowd time-zone mixture with bootstrap intervals; "
                   "per-member offset posterior, DST evidence and candidate zones above a data threshold "
                   "(leads, not identifications).")
    inputs = ("posts", "users")
    outputs = {
        "rhythm_profiles": "Posts per UTC hour of week for the forum, boards, languages and members "
                           "(forum_id, unit, key, how, posts).",
        "rhythm_crowd": "Crowd mixture over UTC offsets -12..+14 with bootstrap uncertainty, per forum and "
                        "members' main language.",
        "rhythm_crowd_fit": "One row per crowd fit: members, active hours, iterations, fit quality, curve used.",
        "rhythm_members": "Every member: events, status, top offsets with posterior, DST evidence, top zones, note.",
        "rhythm_member_offsets": "Full posterior over UTC offsets -12..+14 for members with an estimate.",
        "rhythm_member_zones": "Candidate IANA zones ranked by DST-aware likelihood for members with an estimate.",
    }
    params = (
        Param("min_events", int, 50, "Timestamped posts a member needs for an estimate; below: 'insufficient data'.",
              lambda v: v >= 1, "must be >= 1"),
        Param("crowd_min_events", int, 10, "Timestamped posts a member needs to enter the crowd mixture.",
              lambda v: v >= 1, "must be >= 1"),
        Param("profile_min_events", int, 20, "Posts a member needs for their hour-of-week profile to be written.",
              lambda v: v >= 1, "must be >= 1"),
        Param("n_boot", int, 200, "Bootstrap resamples of members for the crowd shares' uncertainty (0: none).",
              lambda v: 0 <= v <= 10_000, "must lie in [0, 10000]"),
        Param("seed", int, 0, "Seed of the bootstrap."),
        Param("reference", str, DEFAULT_REFERENCE,
              "Reference local-time curve: a shipped name (se-meta) or a path to a reference JSON file."),
        Param("calibration", str, "declared", "'declared': when enough members declare a time zone "
              "(users.timezone_declared), learn the forum's own local-time curve from them (shrunk towards the "
              "reference); 'none': the reference only.", lambda v: v in ("declared", "none"),
              "must be 'declared' or 'none'"),
        Param("calibration_min_members", int, 30, "Members with a declared zone and >= crowd_min_events posts "
              "needed for calibration.", lambda v: v >= 1, "must be >= 1"),
        Param("chronotype_sd", float, None, "Sd (hours) of the personal chronotype deviation marginalised in "
              "member estimates; default: the reference's.", lambda v: 0 <= v <= 4, "must lie in [0, 4]"),
        Param("prior_uniform_share", float, 0.5, "Member posterior prior: this share of a uniform distribution "
              "plus the rest of the forum's crowd shares (empirical Bayes; 1: uniform, members are not pulled "
              "towards the crowd at all).", lambda v: 0 < v <= 1, "must lie in (0, 1]"),
        Param("zones", tuple, tuple(CANDIDATE_ZONES), "Candidate IANA zones scored per member."),
        Param("top_zones", int, 3, "Zones listed per member in rhythm_member_zones (ranked).",
              lambda v: v >= 1, "must be >= 1"),
        Param("crowd_by_language", bool, True, "Also fit the crowd mixture per member's main declared language."),
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        from forumscope.errors import ConfigError

        if not self.zones:
            raise ConfigError(f"step {self.name}: parameter zones must name at least one IANA zone")
        for z in self.zones:
            try:
                ZoneInfo(z)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"step {self.name}: parameter zones: unknown IANA zone {z!r}") from None

    # -- DuckDB side -----------------------------------------------------------------------------

    @staticmethod
    def _where(ctx: StepContext) -> tuple[str, list[Any]]:
        return ("", []) if ctx.forum_id is None else (" AND forum_id = ?", [ctx.forum_id])

    def _profiles(self, ctx: StepContext) -> pa.Table:
        where, params = self._where(ctx)
        return ctx.sql(f"""
            WITH p AS (
                SELECT forum_id, board_id, language, author_id,
                       CAST((isodow(created_at) - 1) * 24 + hour(created_at) AS INTEGER) AS how
                FROM posts WHERE created_at IS NOT NULL{where}),
            g AS (
                SELECT forum_id,
                       CASE WHEN GROUPING(board_id) = 0 THEN 'board'
                            WHEN GROUPING(language) = 0 THEN 'language'
                            WHEN GROUPING(author_id) = 0 THEN 'member' ELSE 'forum' END AS unit,
                       CASE WHEN GROUPING(board_id) = 0 THEN board_id
                            WHEN GROUPING(language) = 0 THEN language
                            WHEN GROUPING(author_id) = 0 THEN author_id ELSE forum_id END AS key,
                       how, count(*) AS posts
                FROM p
                GROUP BY GROUPING SETS ((forum_id, how), (forum_id, board_id, how), (forum_id, language, how),
                                        (forum_id, author_id, how)))
            SELECT forum_id, unit, key, how, posts FROM g
            WHERE key IS NOT NULL
            QUALIFY unit <> 'member' OR sum(posts) OVER (PARTITION BY forum_id, unit, key) >= ?
            ORDER BY forum_id, CASE unit WHEN 'forum' THEN 0 WHEN 'board' THEN 1 WHEN 'language' THEN 2 ELSE 3 END,
                     key, how""", params + [self.profile_min_events])

    def _member_counts(self, ctx: StepContext):
        where, params = self._where(ctx)
        df = ctx.df(f"""
            WITH c AS (
                SELECT forum_id, author_id AS user_id, count(*) AS n_events,
                       count(DISTINCT date_trunc('hour', created_at)) AS n_active_hours,
                       min(created_at) AS first_event, max(created_at) AS last_event
                FROM posts WHERE created_at IS NOT NULL AND author_id IS NOT NULL{where}
                GROUP BY ALL),
            l AS (SELECT forum_id, author_id AS user_id, language AS main_language FROM (
                  {main_language_sql(f'created_at IS NOT NULL AND author_id IS NOT NULL{where}')})),
            u AS (SELECT forum_id, id AS user_id, timezone_declared FROM users WHERE true{where})
            SELECT forum_id, user_id, coalesce(n_events, 0)::BIGINT AS n_events,
                   coalesce(n_active_hours, 0)::BIGINT AS n_active_hours, first_event, last_event, main_language,
                   timezone_declared
            FROM u FULL OUTER JOIN c USING (forum_id, user_id) LEFT JOIN l USING (forum_id, user_id)
            ORDER BY forum_id, n_events DESC, user_id""", params + params + params)
        parsed = {v: parse_declared_zone(v) for v in df["timezone_declared"].dropna().unique()}
        df["declared_zone"] = df["timezone_declared"].map(parsed)
        return df

    def _season_counts(self, ctx: StepContext, model_min: int) -> tuple[Seasons | None, pa.Table | None]:
        """Distinct active hours of members with >= model_min posts, by (forum, member, season, how)."""
        where, params = self._where(ctx)
        span = ctx.con.execute(
            f"SELECT epoch(min(created_at))::BIGINT, epoch(max(created_at))::BIGINT FROM posts "
            f"WHERE created_at IS NOT NULL AND author_id IS NOT NULL{where}", params).fetchall()[0]
        if span[0] is None:
            return None, None
        regime_zones = tuple(z for z, _ in DST_REGIMES.values() if z not in self.zones)
        seasons = build_seasons(span[0], span[1] + 3600, tuple(self.zones) + regime_zones)
        st = pa.table({"start": pa.array(seasons.starts * 1_000_000, pa.int64()).cast(pa.timestamp("us")),
                       "season": pa.array(seasons.season, pa.int32())})
        con = ctx.con
        con.register("_rhythm_seasons", st)
        try:
            tab = ctx.sql(f"""
                WITH p AS (
                    SELECT forum_id, author_id, date_trunc('hour', created_at) AS hr FROM posts
                    WHERE created_at IS NOT NULL AND author_id IS NOT NULL{where}),
                m AS (SELECT forum_id, author_id FROM p GROUP BY ALL HAVING count(*) >= ?),
                h AS (SELECT DISTINCT p.forum_id, p.author_id, p.hr FROM p SEMI JOIN m USING (forum_id, author_id))
                SELECT h.forum_id, h.author_id, s.season,
                       CAST((isodow(h.hr) - 1) * 24 + hour(h.hr) AS SMALLINT) AS how, count(*)::INTEGER AS n
                FROM h ASOF JOIN _rhythm_seasons s ON h.hr >= s.start
                GROUP BY ALL ORDER BY 1, 2, 3""", params + [model_min])
        finally:
            con.unregister("_rhythm_seasons")
        return seasons, tab

    def _declared_hours(self, ctx: StepContext, counts) -> Any:
        """Distinct active UTC hours of members eligible for calibration, with their declared zone."""
        import pandas as pd

        ok = counts[counts["declared_zone"].notna() & (counts["n_events"] >= self.crowd_min_events)]
        if ok.empty:
            return pd.DataFrame(columns=["forum_id", "user_id", "zone", "hr"])
        sel = pd.DataFrame({"forum_id": ok["forum_id"], "user_id": ok["user_id"], "zone": ok["declared_zone"]})
        con = ctx.con
        con.register("_rhythm_declared", sel)
        try:
            return ctx.df("""
                SELECT DISTINCT p.forum_id, p.author_id AS user_id, d.zone, date_trunc('hour', p.created_at) AS hr
                FROM posts p JOIN _rhythm_declared d ON p.forum_id = d.forum_id AND p.author_id = d.user_id
                WHERE p.created_at IS NOT NULL ORDER BY 1, 2, 4""")
        finally:
            con.unregister("_rhythm_declared")

    # -- compute ---------------------------------------------------------------------------------

    def compute(self, ctx: StepContext) -> dict[str, Any]:
        ref = load_reference(self.reference)
        sd = ref.chronotype_sd_hours if self.chronotype_sd is None else self.chronotype_sd
        log_w = chronotype_log_weights(sd)
        ctx.progress("rhythm: profiles", 0.0)
        profiles = self._profiles(ctx)
        ctx.progress("rhythm: member hours", 0.25)
        counts = self._member_counts(ctx)
        declared = self._declared_hours(ctx, counts) if self.calibration == "declared" else None
        seasons, tab = self._season_counts(ctx, min(self.min_events, self.crowd_min_events))
        crowd_rows: list[dict] = []
        fit_rows: list[dict] = []
        estimates: list[dict[str, Any]] = []
        calibrated: set[tuple[str, str]] = set()
        if tab is not None and tab.num_rows:
            forum = tab.column("forum_id").to_numpy(zero_copy_only=False)
            author = tab.column("author_id").to_numpy(zero_copy_only=False)
            season = tab.column("season").to_numpy().astype(np.int64)
            how = tab.column("how").to_numpy().astype(np.int64)
            n = tab.column("n").to_numpy().astype(float)
            bounds = np.flatnonzero(np.r_[True, forum[1:] != forum[:-1], True])
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
                fid = str(forum[a])
                ctx.progress(f"rhythm: fitting {fid}", 0.4 + 0.5 * i / (len(bounds) - 1))
                mh = member_hours(author[a:b], season[a:b], how[a:b], n[a:b])
                info = counts[counts["forum_id"] == fid].set_index("user_id").reindex(mh.members)
                curve, cal = self._forum_curve(ref, declared, fid)
                calibrated.update((fid, u) for u in cal["users"])
                c, f, e = self._fit_forum(fid, mh, info, seasons, curve, cal, log_w, sd)
                crowd_rows += c
                fit_rows += f
                estimates.append(e)
        ctx.progress("rhythm: tables", 0.95)
        members, offsets, zones = self._member_tables(counts, estimates, calibrated, ref)
        return {"rhythm_profiles": profiles, "rhythm_crowd": pa.Table.from_pylist(crowd_rows, _CROWD_SCHEMA),
                "rhythm_crowd_fit": pa.Table.from_pylist(fit_rows, _FIT_SCHEMA), "rhythm_members": members,
                "rhythm_member_offsets": offsets, "rhythm_member_zones": zones}

    def _forum_curve(self, ref: Reference, declared, fid: str) -> tuple[np.ndarray, dict[str, Any]]:
        """The curve used for one forum: the reference, or one calibrated on members with a declared zone."""
        none = {"curve": ref.name, "members": 0, "hours": 0, "users": []}
        if declared is None or declared.empty:
            return ref.curve, none
        d = declared[declared["forum_id"] == fid]
        users = d["user_id"].unique()
        if len(users) < self.calibration_min_members:
            return ref.curve, none
        return calibrated_curve(d, ref), {"curve": f"{ref.name}+declared", "members": int(len(users)),
                                          "hours": int(len(d)), "users": [str(u) for u in users]}

    def _fit_forum(self, fid: str, mh: MemberHours, info, seasons: Seasons, curve: np.ndarray,
                   cal: dict[str, Any], log_w: np.ndarray, sd: float):
        logc = shifted_log_curves(curve)
        ll_rows = shift_loglik_rows(mh, logc)
        ll_member = np.asarray(mh.P @ ll_rows)
        lo = marginal_offset_loglik(ll_member, log_w)  # chronotype marginalised: member posteriors
        lo_crowd = ll_member[:, _shift_index(OFFSETS)]  # population curve shifted: crowd components
        n_posts = info["n_events"].to_numpy()
        hours = mh.hours
        utc = mh.utc_counts()
        in_crowd = n_posts >= self.crowd_min_events
        units = [("forum", fid, in_crowd)]
        if self.crowd_by_language:
            lang = info["main_language"].to_numpy(dtype=object)
            for key in sorted({x for x in lang if isinstance(x, str)}):
                units.append(("language", key, in_crowd & (lang == key)))
        crowd_rows, fit_rows = [], []
        pi_forum = np.full(len(OFFSETS), 1.0 / len(OFFSETS))
        for k, (unit, key, mask) in enumerate(units):
            if not mask.any():
                continue
            l_u = lo_crowd[mask]
            pi, iters = fit_mixture(l_u)
            boot = (bootstrap_mixture(l_u, pi, self.n_boot, self.seed + k) if self.n_boot >= 2
                    else np.empty((0, len(OFFSETS))))
            if unit == "forum":
                pi_forum = pi
            observed = np.asarray(utc[np.flatnonzero(mask)].sum(axis=0)).ravel()
            predicted = np.exp(logc[:, _shift_index(OFFSETS)]) @ pi
            tvd = 0.5 * float(np.abs(observed / observed.sum() - predicted / predicted.sum()).sum())
            ll = float(np.sum(np.log(np.maximum(_lik_matrix(l_u) @ pi, 1e-300)) + l_u.max(axis=1)))
            for j, o in enumerate(OFFSETS):
                row = {"forum_id": fid, "unit": unit, "key": key, "offset_hours": int(o), "share": float(pi[j]),
                       "share_sd": None, "ci_low": None, "ci_high": None, "members": int(mask.sum()),
                       "expected_members": float(pi[j] * mask.sum()), "n_boot": int(len(boot))}
                if len(boot):
                    row.update(share_sd=float(boot[:, j].std(ddof=1)), ci_low=float(np.quantile(boot[:, j], 0.025)),
                               ci_high=float(np.quantile(boot[:, j], 0.975)))
                crowd_rows.append(row)
            fit_rows.append({"forum_id": fid, "unit": unit, "key": key, "members": int(mask.sum()),
                             "active_hours": int(hours[mask].sum()), "iterations": int(iters),
                             "log_likelihood": ll, "profile_tvd": tvd, "curve": cal["curve"],
                             "calibration_members": cal["members"], "calibration_hours": cal["hours"],
                             "chronotype_sd_hours": float(sd), "n_boot": int(len(boot)), "note": NOTE})
        sel = np.flatnonzero(n_posts >= self.min_events)
        prior = (1 - self.prior_uniform_share) * pi_forum + self.prior_uniform_share / len(OFFSETS)
        lp = lo[sel] + np.log(np.maximum(prior, 1e-300))[None, :]
        post = np.exp(lp - lp.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        dst = dst_evidence(mh, ll_rows, seasons, sel)
        zl = zone_loglik(mh, ll_rows, seasons, sel, log_w, len(self.zones))
        return crowd_rows, fit_rows, {"forum_id": fid, "user_id": mh.members[sel], "posterior": post,
                                      "hours": hours[sel], "dst": dst, "zone_loglik": zl, "curve": cal["curve"]}

    # -- output tables ---------------------------------------------------------------------------

    def _member_tables(self, counts, estimates: list[dict[str, Any]], calibrated: set[tuple[str, str]],
                       ref: Reference):
        import pandas as pd

        zones = np.array(self.zones, dtype=object)
        est_frames, off_frames, zone_frames = [], [], []
        for e in estimates:
            post, users, fid = e["posterior"], e["user_id"], e["forum_id"]
            m = len(users)
            if m == 0:
                continue
            order = np.argsort(-post, axis=1, kind="stable")
            top = order[:, :3]
            lo90, hi90 = _credible_interval(post)
            mean = post @ OFFSETS
            zl = e["zone_loglik"]
            zs = np.exp(zl - zl.max(axis=1, keepdims=True))
            zs /= zs.sum(axis=1, keepdims=True)
            zorder = np.argsort(-zs, axis=1, kind="stable")
            dst = e["dst"]
            pattern, hint, bf_n, bf_s = dst_pattern(dst)
            frame = {"forum_id": fid, "user_id": users, "status": "estimated", "curve": e["curve"]}
            for r in range(3):
                ok = r < post.shape[1]
                frame[f"offset_{r + 1}"] = OFFSETS[top[:, r]] if ok else None
                frame[f"p_offset_{r + 1}"] = post[np.arange(m), top[:, r]] if ok else None
            frame.update({"offset_mean": mean, "offset_sd": np.sqrt(np.maximum(post @ OFFSETS ** 2 - mean ** 2, 0)),
                          "cred90_low": lo90, "cred90_high": hi90, "dst_pattern": pattern, "dst_dates": hint,
                          "dst_log_bf_northern": bf_n, "dst_log_bf_southern": bf_s,
                          "hours_northern_summer": dst["hours_summer"].astype(np.int64),
                          "hours_northern_winter": dst["hours_winter"].astype(np.int64)})
            for r in range(3):
                ok = r < len(zones)
                frame[f"zone_{r + 1}"] = zones[zorder[:, r]] if ok else None
                frame[f"zone_{r + 1}_score"] = zs[np.arange(m), zorder[:, r]] if ok else None
            est_frames.append(pd.DataFrame(frame))
            off_frames.append(pd.DataFrame({
                "forum_id": fid, "user_id": np.repeat(users, len(OFFSETS)),
                "offset_hours": np.tile(OFFSETS, m).astype(np.int32), "posterior": post.ravel()}))
            k = min(self.top_zones, len(zones))
            zr = zorder[:, :k]
            zone_frames.append(pd.DataFrame({
                "forum_id": fid, "user_id": np.repeat(users, k),
                "rank": np.tile(np.arange(1, k + 1), m).astype(np.int32),
                "zone": zones[zr].ravel(),
                "zone_class": [CANDIDATE_ZONES.get(z, "") for z in zones[zr].ravel()],
                "score": np.take_along_axis(zs, zr, axis=1).ravel(),
                "log_likelihood": np.take_along_axis(zl, zr, axis=1).ravel()}))
        base = counts[["forum_id", "user_id", "n_events", "n_active_hours", "first_event", "last_event",
                       "timezone_declared"]].copy()
        base["used_for_calibration"] = [(f, u) in calibrated for f, u in zip(base["forum_id"], base["user_id"])]
        if est_frames:
            est = pd.concat(est_frames, ignore_index=True)
            out = base.merge(est, on=["forum_id", "user_id"], how="left")
        else:
            out = base
            for col, _ in _MEMBER_EST_COLUMNS:
                out[col] = None
            out["curve"] = None
        out["status"] = out["status"].where(out["status"].notna(), "insufficient data")
        out["min_events"] = self.min_events
        out["note"] = NOTE
        members = pa.Table.from_pandas(out[[c for c, _ in _MEMBER_COLUMNS]], schema=pa.schema(_MEMBER_COLUMNS),
                                       preserve_index=False)
        offsets = (pa.Table.from_pandas(pd.concat(off_frames, ignore_index=True), schema=_OFFSET_SCHEMA,
                                        preserve_index=False) if off_frames else _OFFSET_SCHEMA.empty_table())
        zones_t = (pa.Table.from_pandas(pd.concat(zone_frames, ignore_index=True), schema=_ZONE_SCHEMA,
                                        preserve_index=False) if zone_frames else _ZONE_SCHEMA.empty_table())
        return members, offsets, zones_t


_CROWD_SCHEMA = pa.schema([("forum_id", pa.string()), ("unit", pa.string()), ("key", pa.string()),
                           ("offset_hours", pa.int32()), ("share", pa.float64()), ("share_sd", pa.float64()),
                           ("ci_low", pa.float64()), ("ci_high", pa.float64()), ("members", pa.int64()),
                           ("expected_members", pa.float64()), ("n_boot", pa.int32())])
_FIT_SCHEMA = pa.schema([("forum_id", pa.string()), ("unit", pa.string()), ("key", pa.string()),
                         ("members", pa.int64()), ("active_hours", pa.int64()), ("iterations", pa.int32()),
                         ("log_likelihood", pa.float64()), ("profile_tvd", pa.float64()),
                         ("curve", pa.string()), ("calibration_members", pa.int64()),
                         ("calibration_hours", pa.int64()), ("chronotype_sd_hours", pa.float64()),
                         ("n_boot", pa.int32()), ("note", pa.string())])
_MEMBER_EST_COLUMNS = [
    ("status", pa.string()),
    ("offset_1", pa.int32()), ("p_offset_1", pa.float64()), ("offset_2", pa.int32()), ("p_offset_2", pa.float64()),
    ("offset_3", pa.int32()), ("p_offset_3", pa.float64()), ("offset_mean", pa.float64()),
    ("offset_sd", pa.float64()), ("cred90_low", pa.int32()), ("cred90_high", pa.int32()),
    ("dst_pattern", pa.string()), ("dst_dates", pa.string()), ("dst_log_bf_northern", pa.float64()),
    ("dst_log_bf_southern", pa.float64()),
    ("hours_northern_summer", pa.int64()), ("hours_northern_winter", pa.int64()),
    ("zone_1", pa.string()), ("zone_1_score", pa.float64()), ("zone_2", pa.string()),
    ("zone_2_score", pa.float64()), ("zone_3", pa.string()), ("zone_3_score", pa.float64()),
]
_MEMBER_COLUMNS = [("forum_id", pa.string()), ("user_id", pa.string()), ("n_events", pa.int64()),
                   ("n_active_hours", pa.int64()), ("first_event", pa.timestamp("us")),
                   ("last_event", pa.timestamp("us")), ("min_events", pa.int64())] + _MEMBER_EST_COLUMNS + [
                   ("curve", pa.string()), ("timezone_declared", pa.string()), ("used_for_calibration", pa.bool_()),
                   ("note", pa.string())]
_OFFSET_SCHEMA = pa.schema([("forum_id", pa.string()), ("user_id", pa.string()), ("offset_hours", pa.int32()),
                            ("posterior", pa.float64())])
_ZONE_SCHEMA = pa.schema([("forum_id", pa.string()), ("user_id", pa.string()), ("rank", pa.int32()),
                          ("zone", pa.string()), ("zone_class", pa.string()), ("score", pa.float64()),
                          ("log_likelihood", pa.float64())])
