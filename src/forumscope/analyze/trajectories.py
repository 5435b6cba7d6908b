"""Monthly activity trajectories clustered into a few pathways.

For every member with at least ``min_posts`` posts whose first ``months`` months since their
first post are all observed, the posts written in month 0, 1, ... ``months``-1 after the first
post form a trajectory. Trajectories are clustered on log(1 + posts) with k-means (default) or a
Gaussian mixture, for every k in [``k_min``, ``k_max``]; k is chosen by the silhouette (k-means) or
the BIC (mixture). Pathways are numbered by size (1 = largest). See docs/analyses/trajectories.md.

Example::

    from forumscope.pipeline.runner import run_steps
    run_steps(case, ["trajectories"], {"trajectories": {"months": 12, "k_max": 5, "seed": 1}})
    case.sql("SELECT pathway, members, shape FROM trajectories_pathways ORDER BY pathway")
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forumscope.analyze.roles import forum_where
from forumscope.pipeline.step import Param, Step, StepContext

MONTH_DAYS = 30.4375  # mean Gregorian month
S, I, F, B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
SUMMARY = pa.schema([("forum_id", S), ("posters", I), ("included", I), ("excluded_few_posts", I),
                     ("excluded_incomplete_window", I), ("lurkers_not_counted", I), ("months", I), ("method", S),
                     ("criterion", S), ("k", I), ("criterion_value", F), ("status", S)])
SELECTION = pa.schema([("forum_id", S), ("k", I), ("criterion", S), ("value", F), ("chosen", B)])
PATHWAYS = pa.schema([("forum_id", S), ("pathway", I), ("members", I), ("share", F), ("mean_posts_in_window", F),
                      ("median_posts_in_window", F), ("mean_active_months", F), ("peak_month", I),
                      ("first_month_share", F), ("last_third_share", F), ("shape", S)])
MEANS = pa.schema([("forum_id", S), ("pathway", I), ("month", I), ("mean_posts", F), ("median_posts", F),
                   ("mean_log1p_posts", F), ("share_active", F)])
MEMBERS = pa.schema([("forum_id", S), ("user_id", S), ("pathway", I), ("posts_in_window", I),
                     ("active_months", I), ("probability", F)])


def shape_of(mean_posts: np.ndarray) -> tuple[str, float, float]:
    """A descriptive label of a mean trajectory (documented in docs/analyses/trajectories.md).

    Returns (shape, first_month_share, last_third_share): the share of the window's posts written in
    month 0 and in the last third of the window.
    """
    total = float(mean_posts.sum())
    if total <= 0:
        return "inactive", 0.0, 0.0
    n = len(mean_posts)
    first = float(mean_posts[0]) / total
    last = float(mean_posts[n - max(1, n // 3):].sum()) / total
    if first >= 0.6:
        return "short-lived", first, last
    if last >= 0.45:
        return "rising", first, last
    if last >= 0.2:
        return "sustained", first, last
    return "declining", first, last


class TrajectoriesStep(Step):
    name = "trajectories"
    description = ("Monthly activity trajectories (posts per month since each member's first post) clustered "
                   "into pathways by k-means or a Gaussian mixture on log(1 + posts), k chosen by silhouette "
                   "or BIC.")
    inputs = ("users", "posts")
    outputs = {
        "trajectories_summary": "Per forum: posters, members included, members left out (and why), the chosen "
                                "k and its criterion.",
        "trajectories_selection": "Criterion value (silhouette or BIC) for every k tried.",
        "trajectories_pathways": "Per pathway: size, share, posts in the window, active months, peak month, "
                                 "descriptive shape.",
        "trajectories_means": "Per pathway and month: mean and median posts, mean log(1 + posts), share active.",
        "trajectories_members": "Member -> pathway assignment, posts in the window, active months and (mixture) "
                                "probability.",
    }
    params = (
        Param("months", int, 12, "Months since the first post in a trajectory (month = 30.4375 days).",
              lambda v: 2 <= v <= 120, "must be in [2, 120]"),
        Param("min_posts", int, 3, "Members with fewer posts (in all) are left out and counted.",
              lambda v: v >= 1, "must be >= 1"),
        Param("require_full_window", bool, True, "Leave out (and count) members whose first post is less than "
              "`months` months before the end of the data, whose later months are not observed.", None, ""),
        Param("method", str, "kmeans", "'kmeans' (criterion: silhouette) or 'gmm' (Gaussian mixture with "
              "diagonal covariances; criterion: BIC).", lambda v: v in ("kmeans", "gmm"),
              "must be 'kmeans' or 'gmm'"),
        Param("k_min", int, 2, "Smallest number of pathways tried.", lambda v: v >= 1, "must be >= 1"),
        Param("k_max", int, 6, "Largest number of pathways tried.", lambda v: v >= 1, "must be >= 1"),
        Param("seed", int, 0, "Seed of the clustering and of the samples.", None, ""),
        Param("n_init", int, 5, "Restarts of k-means / the mixture for each k.", lambda v: v >= 1, "must be >= 1"),
        Param("max_fit_members", int, 50_000, "Fit on a seeded sample of at most this many members (all members "
              "are then assigned).", lambda v: v >= 10, "must be >= 10"),
        Param("silhouette_sample", int, 3_000, "Members sampled (seeded) to compute the silhouette.",
              lambda v: v >= 10, "must be >= 10"),
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        if self.k_max < self.k_min:
            from forumscope.errors import ConfigError

            raise ConfigError(f"step {self.name}: parameter k_max={self.k_max!r} is invalid: must be >= k_min")

    # ------------------------------------------------------------------ data
    def monthly(self, ctx: StepContext) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(members, counts): per author the first post, total posts, whether the window is observed;
        per (author, month < months) the posts."""
        fw = forum_where(ctx, "p.forum_id")
        sec = MONTH_DAYS * 86400.0
        base = f"""
            WITH p AS (SELECT p.forum_id, p.author_id, p.created_at FROM posts p
                       ANTI JOIN (SELECT forum_id, id FROM users WHERE coalesce(is_bot, FALSE)) b
                            ON b.forum_id = p.forum_id AND b.id = p.author_id
                       WHERE p.author_id IS NOT NULL AND p.created_at IS NOT NULL AND {fw}),
            f AS (SELECT forum_id, author_id, min(created_at) AS first_at, count(*) AS posts FROM p GROUP BY ALL),
            e AS (SELECT forum_id, max(created_at) AS end_at FROM p GROUP BY ALL)"""
        members = ctx.df(base + f"""
            SELECT f.forum_id, f.author_id AS user_id, f.first_at, f.posts,
                   epoch(e.end_at) - epoch(f.first_at) >= {self.months} * {sec} AS full_window
            FROM f JOIN e USING (forum_id) ORDER BY f.forum_id, f.author_id""")
        counts = ctx.df(base + f"""
            SELECT p.forum_id, p.author_id AS user_id,
                   CAST(floor((epoch(p.created_at) - epoch(f.first_at)) / {sec}) AS INTEGER) AS month,
                   count(*) AS posts
            FROM p JOIN f ON f.forum_id = p.forum_id AND f.author_id = p.author_id
            JOIN e ON e.forum_id = p.forum_id
            WHERE f.posts >= {self.min_posts}
              AND (NOT {self.require_full_window} OR epoch(e.end_at) - epoch(f.first_at) >= {self.months} * {sec})
              AND epoch(p.created_at) - epoch(f.first_at) < {self.months} * {sec}
            GROUP BY ALL""")
        return members, counts

    # ------------------------------------------------------------------ clustering
    def cluster(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, list[tuple[int, float]], int, str]:
        """Cluster rows of Y (log1p counts). Returns labels, probabilities (gmm), [(k, criterion)], k, status."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        n = len(Y)
        rng = np.random.default_rng(self.seed)
        fit_idx = np.sort(rng.choice(n, self.max_fit_members, replace=False)) if n > self.max_fit_members \
            else np.arange(n)
        Yf = Y[fit_idx]
        distinct = len(np.unique(Yf, axis=0))
        ks = [k for k in range(self.k_min, self.k_max + 1) if k <= distinct and (k < n)]
        if not ks:
            return np.zeros(n, dtype=np.int64), None, [], 1, "too_few_members"
        sil_idx = np.sort(rng.choice(len(Yf), self.silhouette_sample, replace=False)) \
            if len(Yf) > self.silhouette_sample else np.arange(len(Yf))
        scores, models = [], {}
        # one BLAS/OpenMP thread: these matrices are small, and on a busy machine threads mostly wait
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            for k in ks:
                if self.method == "kmeans":
                    model = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed).fit(Yf)
                    if k == 1:
                        score = float("nan")
                    else:
                        lab = model.labels_[sil_idx]
                        score = float(silhouette_score(Yf[sil_idx], lab)) if len(np.unique(lab)) > 1 \
                            else float("nan")
                else:
                    model = GaussianMixture(n_components=k, covariance_type="diag", n_init=self.n_init,
                                            random_state=self.seed, reg_covar=1e-4).fit(Yf)
                    score = float(model.bic(Yf))
                scores.append((k, score))
                models[k] = model
            valid = [(k, s) for k, s in scores if np.isfinite(s)]
            if not valid:
                k = ks[0]
            elif self.method == "kmeans":
                k = max(valid, key=lambda t: (t[1], -t[0]))[0]
            else:
                k = min(valid, key=lambda t: (t[1], t[0]))[0]
            model = models[k]
            labels = model.predict(Y)
            proba = model.predict_proba(Y).max(axis=1) if self.method == "gmm" else None
        return labels.astype(np.int64), proba, scores, k, "ok"

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: StepContext) -> dict[str, Any]:
        ctx.progress("trajectories: monthly counts", 0.0)
        members, counts = self.monthly(ctx)
        lurkers = ctx.df(f"""SELECT u.forum_id, count(*) AS n FROM users u
                             ANTI JOIN (SELECT DISTINCT forum_id, author_id FROM posts WHERE author_id IS NOT NULL) p
                                  ON p.forum_id = u.forum_id AND p.author_id = u.id
                             WHERE NOT coalesce(u.is_bot, FALSE) AND {forum_where(ctx, 'u.forum_id')}
                             GROUP BY ALL""")
        lurk = dict(zip(lurkers["forum_id"], lurkers["n"]))
        N = self.months
        summary, selection, pathways, means, assign = [], [], [], [], []
        crit = "silhouette" if self.method == "kmeans" else "bic"
        forums = ctx.df(f"SELECT id FROM forums WHERE {forum_where(ctx, 'id')}")["id"].tolist()
        for fid in sorted(set(forums) | set(members["forum_id"])):
            ctx.progress(f"trajectories: forum {fid}", 0.3)
            g = members[members["forum_id"] == fid]
            few = g["posts"] < self.min_posts
            incomplete = ~few & ~g["full_window"].astype(bool) if self.require_full_window \
                else pd.Series(False, index=g.index)
            inc = g[~few & ~incomplete].sort_values("user_id")
            c = counts[counts["forum_id"] == fid]
            ids = inc["user_id"].to_numpy()
            pos = pd.Series(np.arange(len(ids)), index=ids)
            X = np.zeros((len(ids), N), dtype=float)
            if len(c):
                X[pos[c["user_id"]].to_numpy(), c["month"].to_numpy()] = c["posts"].to_numpy(dtype=float)
            row = {"forum_id": fid, "posters": len(g), "included": len(ids), "excluded_few_posts": int(few.sum()),
                   "excluded_incomplete_window": int(incomplete.sum()), "lurkers_not_counted": int(lurk.get(fid, 0)),
                   "months": N, "method": self.method, "criterion": crit, "k": None, "criterion_value": None,
                   "status": "ok"}
            if len(ids) < max(2 * self.k_min, 10):
                row["status"] = "too_few_members" if len(g) else "no_timed_posts"
                summary.append(row)
                continue
            Y = np.log1p(X)
            labels, proba, scores, k, status = self.cluster(Y)
            row.update(k=k, status=status)
            for kk, sc in scores:
                selection.append({"forum_id": fid, "k": kk, "criterion": crit,
                                  "value": sc if np.isfinite(sc) else None, "chosen": kk == k})
                if kk == k:
                    row["criterion_value"] = sc if np.isfinite(sc) else None
            summary.append(row)
            # order pathways by size (desc), then by mean posts in the window (desc), then label
            sizes = np.bincount(labels, minlength=labels.max() + 1)
            tot = np.array([X[labels == j].sum(axis=1).mean() if sizes[j] else 0.0 for j in range(len(sizes))])
            order = sorted([j for j in range(len(sizes)) if sizes[j]], key=lambda j: (-sizes[j], -tot[j], j))
            remap = {j: i + 1 for i, j in enumerate(order)}
            pw = np.array([remap[j] for j in labels], dtype=np.int64)
            active = (X > 0).sum(axis=1)
            for j in order:
                sel = labels == j
                Xs = X[sel]
                mean = Xs.mean(axis=0)
                shape, first_share, last_share = shape_of(mean)
                pathways.append({"forum_id": fid, "pathway": remap[j], "members": int(sel.sum()),
                                 "share": float(sel.mean()), "mean_posts_in_window": float(Xs.sum(axis=1).mean()),
                                 "median_posts_in_window": float(np.median(Xs.sum(axis=1))),
                                 "mean_active_months": float(active[sel].mean()),
                                 "peak_month": int(np.argmax(mean)), "first_month_share": first_share,
                                 "last_third_share": last_share, "shape": shape})
                med = np.median(Xs, axis=0)
                lm = np.log1p(Xs).mean(axis=0)
                sa = (Xs > 0).mean(axis=0)
                for mth in range(N):
                    means.append({"forum_id": fid, "pathway": remap[j], "month": mth, "mean_posts": float(mean[mth]),
                                  "median_posts": float(med[mth]), "mean_log1p_posts": float(lm[mth]),
                                  "share_active": float(sa[mth])})
            posts_w = X.sum(axis=1)
            for i, uid in enumerate(ids):
                assign.append({"forum_id": fid, "user_id": uid, "pathway": int(pw[i]),
                               "posts_in_window": int(posts_w[i]), "active_months": int(active[i]),
                               "probability": float(proba[i]) if proba is not None else None})
        pathways.sort(key=lambda r: (r["forum_id"], r["pathway"]))
        means.sort(key=lambda r: (r["forum_id"], r["pathway"], r["month"]))
        return {"trajectories_summary": pa.Table.from_pylist(summary, schema=SUMMARY),
                "trajectories_selection": pa.Table.from_pylist(selection, schema=SELECTION),
                "trajectories_pathways": pa.Table.from_pylist(pathways, schema=PATHWAYS),
                "trajectories_means": pa.Table.from_pylist(means, schema=MEANS),
                "trajectories_members": pa.Table.from_pylist(assign, schema=MEMBERS)}
