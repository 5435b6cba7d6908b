"""Commitment: lurkers, retention and survival by rank and cohort, a Cox model.

Lurkers (registered members who never posted) are counted, and every rate carries its numerator,
its denominator and whether lurkers are in it. Survival is the time from a member's first to last
post (days); a member whose last post lies within ``censor_days`` of the end of the data may still
be active and is censored. Kaplan–Meier curves (lifelines) by current rank (staff apart) and by
registration cohort; a Cox proportional-hazards model with rank position, registration cohort and
the replies received on the member's first post. See docs/analyses/commitment.md.

Example::

    from forumscope.pipeline.runner import run_steps
    run_steps(case, ["commitment"], {"commitment": {"censor_days": 60.0, "cohort": "quarter"}})
    case.sql("SELECT measure, numerator, denominator, value, includes_lurkers FROM commitment_rates")
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forumscope.analyze.roles import DEFAULT_STAFF_GROUP_KINDS, forum_where, staff_sql
from forumscope.store.sql import sql_str
from forumscope.pipeline.step import Param, Step, StepContext

DAY = 86400.0
S, I, F, B, TS = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.timestamp("us")
RATES = pa.schema([("forum_id", S), ("measure", S), ("numerator", I), ("denominator", I), ("value", F),
                   ("denominator_definition", S), ("includes_lurkers", B)])
MEMBERS = pa.schema([("forum_id", S), ("user_id", S), ("registered", B), ("is_lurker", B), ("is_staff", B),
                     ("rank_id", S), ("rank_group", S), ("rank_group_order", F), ("cohort", S),
                     ("cohort_source", S), ("registered_at", TS), ("first_post_at", TS), ("last_post_at", TS),
                     ("posts", I), ("first_post_id", S), ("first_post_replies", I), ("duration_days", F),
                     ("event", B)])
GROUPS = pa.schema([("forum_id", S), ("grouping", S), ("group", S), ("group_order", F), ("members", I),
                    ("events", I), ("censored", I), ("median_days", F), ("median_ci_lower", F),
                    ("median_ci_upper", F), ("median_reached", B), ("status", S)])
SURVIVAL = pa.schema([("forum_id", S), ("grouping", S), ("group", S), ("group_order", F), ("time_days", F),
                      ("at_risk", I), ("events_by_time", I), ("censored_by_time", I), ("survival", F),
                      ("ci_lower", F), ("ci_upper", F)])
COX = pa.schema([("forum_id", S), ("model_status", S), ("covariate", S), ("covariate_status", S), ("coef", F),
                 ("se", F), ("hazard_ratio", F), ("hr_ci_lower", F), ("hr_ci_upper", F), ("p_value", F),
                 ("concordance", F), ("n", I), ("events", I), ("note", S)])


def _times_ok(v: tuple) -> bool:
    try:
        return len(v) > 0 and all(float(x) > 0 for x in v)
    except (TypeError, ValueError):
        return False


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, q: float) -> float:
    """First time at which a step curve is <= q (inf when never). A tolerance absorbs the rounding of
    lifelines' product (S computed as exp(sum(log(...))) can be 0.5000000000000001 for exactly 1/2)."""
    hit = np.nonzero(curve <= q + 1e-9)[0]
    return float(times[hit[0]]) if len(hit) else float("inf")


def _iso_ok(v: str) -> bool:
    try:
        dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _f(x: Any) -> float | None:
    """A finite float or None (NaN and infinities become NULL in result tables)."""
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


class CommitmentStep(Step):
    name = "commitment"
    description = ("Lurkers, rates with explicit denominators, Kaplan–Meier survival of members' active span "
                   "by rank and registration cohort, and a Cox model (rank, cohort, replies to the first post).")
    inputs = ("users", "posts", "interactions", "ranks", "groups", "memberships")
    outputs = {
        "commitment_rates": "Rates with numerator, denominator, what the denominator is and whether it includes "
                            "lurkers.",
        "commitment_members": "One row per member: lurker, staff, rank group, cohort, first/last post, span, "
                              "event (left) or censored, replies to the first post.",
        "commitment_groups": "Per group (all, each rank, each cohort): members, events, censored, median "
                             "survival in days with its confidence interval.",
        "commitment_survival": "Kaplan–Meier survival at the chosen times per group, with confidence interval "
                               "and members at risk.",
        "commitment_cox": "Cox proportional-hazards model: one row per covariate (coefficient, hazard ratio "
                          "with CI, p) with the model's status, concordance, n and events.",
    }
    params = (
        Param("censor_days", float, 90.0, "A member whose last post lies within this many days of the end of "
              "the data is censored (may still be active).", lambda v: v >= 0, "must be >= 0"),
        Param("data_end", str, None, "End of the observation (ISO 8601, UTC): the case as of then (later posts, "
              "replies and registrations are ignored); default: each forum's last post.",
              _iso_ok, "must be an ISO 8601 date or time"),
        Param("cohort", str, "year", "Registration cohort: 'year' or 'quarter'.",
              lambda v: v in ("year", "quarter"), "must be 'year' or 'quarter'"),
        Param("times", tuple, (30, 90, 180, 365), "Days at which the survival table is reported.",
              _times_ok, "must be positive numbers"),
        Param("alpha", float, 0.05, "1 - confidence level of every interval (0.05: 95 % intervals).",
              lambda v: 0 < v < 1, "must be in (0, 1)"),
        Param("min_group_size", int, 5, "Kaplan–Meier curves are fitted only for groups with at least this "
              "many posters; categorical cohorts in the Cox model need as many.", lambda v: v >= 1,
              "must be >= 1"),
        Param("cox_min_members", int, 20, "The Cox model is fitted only with at least this many members.",
              lambda v: v >= 2, "must be >= 2"),
        Param("cox_min_events", int, 5, "The Cox model is fitted only with at least this many events.",
              lambda v: v >= 1, "must be >= 1"),
        Param("cox_cohort", str, "trend", "Cohort in the Cox model: 'trend' (years between the forum's first "
              "registration and the member's) or 'categorical' (one indicator per cohort, earliest as "
              "reference).", lambda v: v in ("trend", "categorical"), "must be 'trend' or 'categorical'"),
        Param("cox_log_replies", bool, True, "Use log(1 + replies to the first post) rather than the count.",
              None, ""),
        Param("cox_penalizer", float, 0.0, "L2 penalty of the Cox fit (lifelines penalizer).",
              lambda v: v >= 0, "must be >= 0"),
        Param("cox_time_step_days", float, 1.0, "Spans are rounded up to a multiple of this many days for the "
              "Cox fit (ties handled by Efron's method; keeps the fit fast); 0 keeps exact spans.",
              lambda v: v >= 0, "must be >= 0"),
        Param("cox_max_members", int, 50_000, "Members above this number are sampled (seeded) for the Cox "
              "fit.", lambda v: v >= 2, "must be >= 2"),
        Param("seed", int, 0, "Seed of the Cox sample.", None, ""),
        Param("staff_group_kinds", tuple, DEFAULT_STAFF_GROUP_KINDS, "Group kinds whose members are staff "
              "(special ranks count too; see docs/analyses/roles.md).",
              lambda v: all(isinstance(x, str) for x in v), "must be a tuple of strings"),
    )

    # ------------------------------------------------------------------ data
    def members(self, ctx: StepContext) -> pd.DataFrame:
        fw = forum_where(ctx)
        if self.data_end:  # the case as of data_end: later posts, replies and registrations are ignored
            end = f"CAST({sql_str(self.data_end)} AS TIMESTAMPTZ)::TIMESTAMP"
            end_sql = f"SELECT id AS forum_id, {end} AS end_at FROM forums WHERE {forum_where(ctx, 'id')}"
            cut_posts, cut_replies = f"AND created_at <= {end}", f"AND coalesce(i.created_at <= {end}, TRUE)"
            cut_users = f"AND coalesce(registered_at <= {end}, TRUE)"
        else:
            end_sql = f"SELECT forum_id, max(created_at) AS end_at FROM posts WHERE {fw} GROUP BY ALL"
            cut_posts = cut_replies = cut_users = ""
        df = ctx.df(f"""
            WITH p AS (SELECT forum_id, author_id AS user_id, count(*) AS posts,
                              min(created_at) AS first_post_at, max(created_at) AS last_post_at,
                              arg_min(id, (created_at, id)) AS first_post_id
                       FROM posts WHERE author_id IS NOT NULL AND {fw} {cut_posts} GROUP BY ALL),
            fr AS (SELECT forum_id, post_id, count(*) AS n FROM (  -- each replying post once
                       SELECT DISTINCT i.forum_id, i.target_post_id AS post_id, coalesce(i.post_id, i.id) AS reply
                       FROM interactions i
                       JOIN p ON p.forum_id = i.forum_id AND p.first_post_id = i.target_post_id
                       WHERE i.kind = 'reply' AND i.source_user_id IS DISTINCT FROM i.target_user_id
                         AND {forum_where(ctx, 'i.forum_id')} {cut_replies})
                   GROUP BY ALL),
            mem AS (SELECT forum_id, id AS user_id, TRUE AS registered, registered_at, rank_id FROM users
                    WHERE {fw} AND NOT coalesce(is_bot, FALSE) {cut_users}
                    UNION ALL
                    SELECT p.forum_id, p.user_id, FALSE, NULL::TIMESTAMP, NULL FROM p
                    ANTI JOIN users u ON u.forum_id = p.forum_id AND u.id = p.user_id),
            st AS ({staff_sql(ctx, self.staff_group_kinds)}),
            ends AS ({end_sql})
            SELECT m.forum_id, m.user_id, m.registered, m.registered_at, m.rank_id,
                   r.name AS rank_name, r.position AS rank_position, coalesce(r.is_special, FALSE) AS rank_special,
                   st.staff_evidence IS NOT NULL AS is_staff,
                   coalesce(p.posts, 0) AS posts, p.first_post_at, p.last_post_at, p.first_post_id,
                   coalesce(fr.n, 0) AS first_post_replies, ends.end_at
            FROM mem m
            LEFT JOIN p ON p.forum_id = m.forum_id AND p.user_id = m.user_id
            LEFT JOIN fr ON fr.forum_id = p.forum_id AND fr.post_id = p.first_post_id
            LEFT JOIN ranks r ON r.forum_id = m.forum_id AND r.id = m.rank_id
            LEFT JOIN st ON st.forum_id = m.forum_id AND st.user_id = m.user_id
            LEFT JOIN ends ON ends.forum_id = m.forum_id
            ORDER BY m.forum_id, m.user_id""")
        return self.derive(df)

    def derive(self, df: pd.DataFrame) -> pd.DataFrame:
        """Add lurker flag, rank group, cohort, span (days) and event/censoring."""
        df = df.copy()
        df["is_lurker"] = df["registered"] & (df["posts"] == 0)
        # rank group: staff apart, then the ladder, then other special ranks, then no rank
        name = df["rank_name"].fillna(df["rank_id"])
        df["rank_group"] = np.where(df["is_staff"], "staff", np.where(df["rank_id"].isna(), "no rank", name))
        order = np.where(df["is_staff"], 1_000_002.0,
                         np.where(df["rank_id"].isna(), 1_000_001.0,
                                  np.where(df["rank_position"].notna() & ~df["rank_special"],
                                           df["rank_position"].astype(float), 1_000_000.0)))
        df["rank_group_order"] = order
        reg = pd.to_datetime(df["registered_at"])
        first = pd.to_datetime(df["first_post_at"])
        base = reg.fillna(first)
        df["cohort_source"] = np.where(reg.notna(), "registered_at", np.where(first.notna(), "first_post", None))
        key = base.dt.year * 10 + (base.dt.quarter if self.cohort == "quarter" else 0)
        labels = {k: (f"{int(k) // 10}Q{int(k) % 10}" if self.cohort == "quarter" else str(int(k) // 10))
                  for k in key.dropna().unique()}
        df["cohort"] = key.map(labels).astype(object).where(base.notna(), None)
        df["cohort_start"] = base
        last = pd.to_datetime(df["last_post_at"])
        end = pd.to_datetime(df["end_at"])
        df["observed_days"] = (end - first).dt.total_seconds() / DAY  # first post to the end of the data
        df["duration_days"] = ((last - first).dt.total_seconds() / DAY).where(df["posts"] > 0)
        df.loc[df["duration_days"] < 0, "duration_days"] = 0.0
        censored = (end - last).dt.total_seconds() / DAY < self.censor_days
        timed = (df["posts"] > 0) & df["duration_days"].notna()  # posts without a time give no span
        df["event"] = pd.array(np.where(timed, ~censored, pd.NA), dtype="boolean")
        return df

    # ------------------------------------------------------------------ rates
    def rates(self, fid: str, g: pd.DataFrame, times: list[float]) -> list[dict[str, Any]]:
        reg = g["registered"].to_numpy(dtype=bool)
        posts = g["posts"].to_numpy()
        poster = posts > 0
        still = (g["event"] == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712  censored = active
        observed = g["observed_days"].to_numpy(dtype=float)
        dur = g["duration_days"].to_numpy(dtype=float)
        registered, posters = int(reg.sum()), int(poster.sum())
        lurkers = int((reg & ~poster).sum())
        rows = []

        def add(measure: str, num: int, den: int, den_def: str, lurk: bool) -> None:
            rows.append({"forum_id": fid, "measure": measure, "numerator": int(num), "denominator": int(den),
                         "value": (num / den) if den else None, "denominator_definition": den_def,
                         "includes_lurkers": lurk})

        add("lurker_share", lurkers, registered, "registered members (incl. lurkers)", True)
        add("poster_share", registered - lurkers, registered, "registered members (incl. lurkers)", True)
        add("staff_share", int(g["is_staff"].sum()), len(g), "all members (registered incl. lurkers, and "
            "posters without an account)", True)
        add("unregistered_poster_share", int((~reg & poster).sum()), posters,
            "posters (members with at least one post)", False)
        add("single_post_share", int((posts == 1).sum()), posters, "posters", False)
        add("active_at_end_share", int((still & poster).sum()), posters,
            f"posters; active = last post within {self.censor_days:g} days of the end", False)
        add("active_at_end_share_of_registered", int((still & reg).sum()), registered,
            f"registered members (incl. lurkers); active = last post within {self.censor_days:g} days "
            "of the end", True)
        for t in times:
            with np.errstate(invalid="ignore"):
                elig = poster & (observed >= t)
                kept = elig & (dur >= t)
            add(f"retained_{t:g}d", int(kept.sum()), int(elig.sum()),
                f"posters whose first post is at least {t:g} days before the end (observable for {t:g} days); "
                f"retained = last post at least {t:g} days after the first", False)
        return rows

    # ------------------------------------------------------------------ Kaplan–Meier
    def km(self, fid: str, grouping: str, group: str, order: float, d: pd.DataFrame,
           times: list[float]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from lifelines import KaplanMeierFitter

        n = len(d)
        ev = int(d["event"].astype(bool).sum()) if n else 0
        row = {"forum_id": fid, "grouping": grouping, "group": group, "group_order": order, "members": n,
               "events": ev, "censored": n - ev, "median_days": None, "median_ci_lower": None,
               "median_ci_upper": None, "median_reached": None, "status": "ok"}
        if n < self.min_group_size:
            row["status"] = "too_few_members"
            return row, []
        T = d["duration_days"].to_numpy(dtype=float)
        E = d["event"].to_numpy(dtype=bool)
        kmf = KaplanMeierFitter(alpha=self.alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kmf.fit(T, E)
        tl = kmf.survival_function_.index.to_numpy()
        sf = kmf.survival_function_.iloc[:, 0].to_numpy()
        lo = kmf.confidence_interval_.iloc[:, 0].to_numpy()
        hi = kmf.confidence_interval_.iloc[:, 1].to_numpy()
        med = _first_at_or_below(tl, sf, 0.5)
        row["median_reached"] = bool(np.isfinite(med))
        row["median_days"] = _f(med)
        row["median_ci_lower"] = _f(_first_at_or_below(tl, lo, 0.5))
        row["median_ci_upper"] = _f(_first_at_or_below(tl, hi, 0.5))
        surv = []
        t_max = float(T.max())
        for t in times:
            i = int(np.searchsorted(tl, t, side="right")) - 1
            # beyond the longest span the curve is only known if it has already reached 0
            known = t <= t_max or (i >= 0 and sf[i] == 0)
            surv.append({"forum_id": fid, "grouping": grouping, "group": group, "group_order": order,
                         "time_days": float(t), "at_risk": int((T >= t).sum()),
                         "events_by_time": int(((T <= t) & E).sum()),
                         "censored_by_time": int(((T <= t) & ~E).sum()),
                         "survival": (_f(sf[i]) if i >= 0 else 1.0) if known else None,
                         "ci_lower": (_f(lo[i]) if i >= 0 else 1.0) if known else None,
                         "ci_upper": (_f(hi[i]) if i >= 0 else 1.0) if known else None})
        return row, surv

    # ------------------------------------------------------------------ Cox
    def cox(self, fid: str, posters: pd.DataFrame) -> list[dict[str, Any]]:
        from lifelines import CoxPHFitter
        from threadpoolctl import threadpool_limits

        replies_name = "log1p_first_post_replies" if self.cox_log_replies else "first_post_replies"
        d = posters[~posters["is_staff"]].copy()
        notes = [f"{int(posters['is_staff'].sum())} staff left out"]
        X = pd.DataFrame(index=d.index)
        requested: list[str] = []
        status_of: dict[str, str] = {}
        # rank position (rule-based ladder only)
        pos = d["rank_position"].where(~d["rank_special"]).astype(float)
        requested.append("rank_position")
        if pos.notna().any():
            X["rank_position"] = pos
        else:
            status_of["rank_position"] = "dropped_missing"
        # cohort
        if self.cox_cohort == "trend":
            requested.append("cohort_years")
            start = pd.to_datetime(d["cohort_start"])
            if start.notna().any():
                X["cohort_years"] = (start - start.min()).dt.total_seconds() / (365.25 * DAY)
            else:
                status_of["cohort_years"] = "dropped_missing"
        else:
            sizes = d.groupby("cohort")["event"].agg(["size", lambda e: int(e.astype(bool).sum())])
            sizes.columns = ["n", "events"]
            keep = sorted(c for c, r in sizes.iterrows()
                          if r["n"] >= self.min_group_size and r["events"] >= self.cox_min_events)
            for c in sorted(set(sizes.index) - set(keep)):
                requested.append(f"cohort[{c}]")
                status_of[f"cohort[{c}]"] = "dropped_too_small"
            small = d["cohort"].notna() & ~d["cohort"].isin(keep)
            if small.any():
                notes.append(f"{int(small.sum())} members of cohorts with under {self.min_group_size} members "
                             f"or {self.cox_min_events} events left out")
                d, X = d[~small], X[~small]
            for c in keep[1:]:
                col = f"cohort[{c}]"
                requested.append(col)
                X[col] = (d["cohort"] == c).astype(float).where(d["cohort"].notna())
            if keep:
                notes.append(f"reference cohort {keep[0]}")
            else:
                requested.append("cohort")
                status_of["cohort"] = "dropped_missing"
        requested.append(replies_name)
        r = d["first_post_replies"].astype(float)
        X[replies_name] = np.log1p(r) if self.cox_log_replies else r
        before = len(X)
        ok = X.notna().all(axis=1)
        X, d = X[ok], d[ok]
        if before - len(X):
            notes.append(f"{before - len(X)} members with a missing covariate left out")
        for col in list(X.columns):
            if X[col].nunique() < 2:
                status_of[col] = "dropped_no_variance"
                X = X.drop(columns=col)
        if len(X) > self.cox_max_members:
            keep_idx = np.sort(np.random.default_rng(self.seed).choice(len(X), self.cox_max_members,
                                                                       replace=False))
            X, d = X.iloc[keep_idx], d.iloc[keep_idx]
            notes.append(f"random sample of {self.cox_max_members} members (seed {self.seed})")
        n, events = len(X), int(d["event"].astype(bool).sum())
        model_status = "ok"
        if n < self.cox_min_members:
            model_status = "too_few_members"
        elif events < self.cox_min_events:
            model_status = "too_few_events"
        elif X.shape[1] == 0:
            model_status = "no_covariates"
        fit = None
        if model_status == "ok":
            data = X.copy()
            T = d["duration_days"].to_numpy(dtype=float)
            if self.cox_time_step_days > 0:  # group ties: lifelines' Efron fit loops over distinct times
                T = np.ceil(T / self.cox_time_step_days) * self.cox_time_step_days
            data["_T"] = T
            data["_E"] = d["event"].to_numpy(dtype=bool)
            cph = CoxPHFitter(alpha=self.alpha, penalizer=self.cox_penalizer)
            try:
                with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=1):
                    warnings.simplefilter("always")
                    cph.fit(data, duration_col="_T", event_col="_E")
                for w in caught:
                    msg = str(w.message).strip().split(". ")[0].strip()
                    if msg and f"warning: {msg[:160]}" not in notes:
                        notes.append(f"warning: {msg[:160]}")
                        model_status = "ok_with_warnings"
                fit = cph
            except Exception as exc:  # lifelines ConvergenceError, numpy LinAlgError ...
                model_status = "failed"
                first_line = (str(exc).strip().splitlines() or [""])[0]
                notes.append(f"{type(exc).__name__}: {first_line[:300]}")
        conc = _f(fit.concordance_index_) if fit is not None else None
        rows = []
        for cov in requested:
            row = {"forum_id": fid, "model_status": model_status, "covariate": cov,
                   "covariate_status": status_of.get(cov, "ok" if fit is not None else model_status),
                   "coef": None, "se": None, "hazard_ratio": None, "hr_ci_lower": None, "hr_ci_upper": None,
                   "p_value": None, "concordance": conc, "n": n, "events": events, "note": "; ".join(notes)}
            if fit is not None and cov in fit.params_.index:
                coef = float(fit.params_[cov])
                lo, hi = fit.confidence_intervals_.loc[cov].to_numpy(dtype=float)
                with np.errstate(over="ignore"):
                    hr, hr_lo, hr_hi = np.exp([coef, lo, hi])
                row.update(coef=_f(coef), se=_f(fit.standard_errors_[cov]), hazard_ratio=_f(hr),
                           hr_ci_lower=_f(hr_lo), hr_ci_upper=_f(hr_hi), p_value=_f(fit.summary.loc[cov, "p"]))
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: StepContext) -> dict[str, Any]:
        times = sorted({float(t) for t in self.times})
        ctx.progress("commitment: members", 0.0)
        m = self.members(ctx)
        rates, groups, surv, cox = [], [], [], []
        for fid, g in m.groupby("forum_id", sort=True):
            ctx.progress(f"commitment: forum {fid}", 0.5)
            rates += self.rates(fid, g, times)
            posters = g[(g["posts"] > 0) & g["duration_days"].notna()]
            parts = [("all", "all", 0.0, posters)]
            for (order, name), d in posters.groupby(["rank_group_order", "rank_group"], sort=True):
                parts.append(("rank", name, float(order), d))
            for i, (name, d) in enumerate(posters.groupby("cohort", sort=True)):
                parts.append(("cohort", name, float(i), d))
            unknown = posters[posters["cohort"].isna()]
            if len(unknown):
                parts.append(("cohort", "unknown", 1e6, unknown))
            for grouping, name, order, d in parts:
                row, s = self.km(fid, grouping, name, order, d, times)
                groups.append(row)
                surv += s
            cox += self.cox(fid, posters)
        members = m[["forum_id", "user_id", "registered", "is_lurker", "is_staff", "rank_id", "rank_group",
                     "rank_group_order", "cohort", "cohort_source", "registered_at", "first_post_at",
                     "last_post_at", "posts", "first_post_id", "first_post_replies", "duration_days", "event"]]
        return {
            "commitment_rates": pa.Table.from_pylist(rates, schema=RATES),
            "commitment_members": pa.Table.from_pandas(members.reset_index(drop=True), schema=MEMBERS,
                                                       preserve_index=False),
            "commitment_groups": pa.Table.from_pylist(groups, schema=GROUPS),
            "commitment_survival": pa.Table.from_pylist(surv, schema=SURVIVAL),
            "commitment_cox": pa.Table.from_pylist(cox, schema=COX),
        }
