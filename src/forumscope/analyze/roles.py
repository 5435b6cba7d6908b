"""Member roles: staff, producers, requesters, repliers, social members, lurkers, regulars.

One primary role per member from documented, parameterised rules applied in a fixed order
(the first rule that matches wins), with the evidence each rule looked at. See
docs/analyses/roles.md for the rules, the literature and the limits.

Example (on any ingested case)::

    from forumscope.pipeline.runner import run_steps
    run_steps(case, ["roles"], {"roles": {"alpha": 0.01}})
    case.sql("SELECT role, members, share_of_all_members FROM roles_counts")

Role labels are investigative leads (SAFETY.md): every row carries the numbers it rests on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forumscope.pipeline.step import Param, Step, StepContext
from forumscope.store.sql import sql_str

ROLE_ORDER = ("staff", "producer", "requester", "social", "replier", "regular", "lurker")
# How our roles map onto the synthetic generator's truth labels (docs/synth.md, 'Roles').
TRUTH_MAP = {"staff": "staff", "producer": "producer", "requester": "requester", "social": "social",
             "replier": "regular", "regular": "regular", "lurker": "lurker"}

DEFAULT_STAFF_GROUP_KINDS = ("admin", "moderator", "staff")
DEFAULT_STAFF_NAME_PATTERN = r"admin|moderat|staff|\bmods?\b|team|owner"
DEFAULT_NON_STAFF_RANK_PATTERN = r"vip|donor|premium|supporter|banned|guest|bot"
DEFAULT_SOCIAL_BOARD_PATTERN = (r"chat|off[- ]?topic|social|lounge|small ?talk|general|plauder|charla|"
                                r"introduc|welcome|random|caf[eé]|\bpub\b|\bbar\b|hangout|tavern|kneipe")


S, I, F, B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
MEMBERS = pa.schema([
    ("forum_id", S), ("user_id", S), ("registered", B), ("role", S), ("rule", S), ("is_staff", B),
    ("staff_evidence", S), ("posts", I), ("threads_started", I), ("thread_start_share", F),
    ("forum_thread_start_share", F), ("thread_start_p", F), ("replies_to_others", I), ("reply_share", F),
    ("forum_reply_share", F), ("reply_p", F), ("replies_received", I), ("approvals_received", I),
    ("approvals_per_post", F), ("forum_approvals_per_post", F), ("thanks_ratio", F), ("approvals_p", F),
    ("attachments", I), ("attachments_per_post", F), ("social_posts", I), ("social_share", F),
    ("forum_social_share", F), ("social_p", F)])
COUNTS = pa.schema([("forum_id", S), ("role", S), ("members", I), ("all_members", I), ("share_of_all_members", F),
                    ("posters", I), ("share_of_posters", F), ("registered_members", I),
                    ("unregistered_posters", I)])
BOARDS = pa.schema([("forum_id", S), ("board_id", S), ("name", S), ("is_social", B), ("rule", S), ("posts", I),
                    ("threads", I), ("posts_per_thread", F), ("attachments", I), ("attachments_per_post", F),
                    ("approvals", I), ("approvals_per_post", F)])


def _arrow(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A result frame as Arrow with a fixed schema (also when empty, so the table's types never depend on
    the data)."""
    return pa.Table.from_pandas(df[schema.names].reset_index(drop=True), schema=schema, preserve_index=False)


# ----------------------------------------------------------------------------- shared SQL helpers
def forum_where(ctx: StepContext, column: str = "forum_id") -> str:
    """A SQL condition restricting ``column`` to the context's forum (TRUE when all forums)."""
    return "TRUE" if ctx.forum_id is None else f"{column} = {sql_str(ctx.forum_id)}"


def staff_sql(ctx: StepContext, group_kinds: tuple[str, ...] = DEFAULT_STAFF_GROUP_KINDS,
              name_pattern: str = DEFAULT_STAFF_NAME_PATTERN,
              non_staff_rank_pattern: str = DEFAULT_NON_STAFF_RANK_PATTERN) -> str:
    """(forum_id, user_id, staff_evidence) of staff members.

    Staff: a membership (any time) in a group whose ``kind`` is one of ``group_kinds`` (or, for a
    group without a kind, whose name matches ``name_pattern``), or a current special rank
    (``ranks.is_special``) whose name does not match ``non_staff_rank_pattern`` (VIP, donor ...).
    """
    kinds = ", ".join(sql_str(k.lower()) for k in group_kinds) or "NULL"
    return f"""
        SELECT forum_id, user_id, string_agg(DISTINCT evidence, '|' ORDER BY evidence) AS staff_evidence
        FROM (
            SELECT m.forum_id, m.user_id, 'group:' || coalesce(g.kind, g.name, g.id) AS evidence
            FROM memberships m JOIN groups g ON g.forum_id = m.forum_id AND g.id = m.group_id
            WHERE {forum_where(ctx, 'm.forum_id')}
              AND (lower(g.kind) IN ({kinds})
                   OR (g.kind IS NULL AND regexp_matches(lower(coalesce(g.name, g.id)), {sql_str(name_pattern)})))
            UNION ALL
            SELECT u.forum_id, u.id, 'rank:' || coalesce(r.name, r.id)
            FROM users u JOIN ranks r ON r.forum_id = u.forum_id AND r.id = u.rank_id
            WHERE {forum_where(ctx, 'u.forum_id')} AND coalesce(r.is_special, FALSE)
              AND NOT regexp_matches(lower(coalesce(r.name, r.id)), {sql_str(non_staff_rank_pattern)})
        ) GROUP BY ALL
    """


def _valid_regex(p: str) -> bool:
    try:
        re.compile(p)
    except re.error:
        return False
    return True


def _share(a: Any, b: Any) -> Any:
    return np.where(np.asarray(b) > 0, np.asarray(a, dtype=float) / np.maximum(np.asarray(b, dtype=float), 1), np.nan)


# ----------------------------------------------------------------------------- the step
class RolesStep(Step):
    name = "roles"
    description = ("Member roles (staff, producer, requester, social, replier, regular, lurker) from "
                   "documented rules, with the evidence of each rule and counts with their denominators.")
    inputs = ("users", "posts", "threads", "boards", "interactions", "attachments", "groups", "memberships",
              "ranks")
    outputs = {
        "roles_members": "One row per member: primary role, the rule that gave it and its evidence columns.",
        "roles_counts": "Members per role with denominators (all members incl. lurkers; posters only).",
        "roles_boards": "Boards with the social-board decision, the rule used and its evidence.",
    }
    params = (
        Param("staff_group_kinds", tuple, DEFAULT_STAFF_GROUP_KINDS,
              "Group kinds (groups.kind) whose members are staff.", lambda v: all(isinstance(x, str) for x in v),
              "must be a tuple of strings"),
        Param("staff_name_pattern", str, DEFAULT_STAFF_NAME_PATTERN,
              "Regular expression (on the lower-cased name) for groups without a kind that are staff groups.",
              _valid_regex, "must be a valid regular expression"),
        Param("non_staff_rank_pattern", str, DEFAULT_NON_STAFF_RANK_PATTERN,
              "Special ranks whose lower-cased name matches this expression are not staff ranks.",
              _valid_regex, "must be a valid regular expression"),
        Param("approval_kinds", tuple, ("thanks",),
              "Interaction kinds counted as approval received (thanks, reactions...).",
              lambda v: len(v) > 0 and all(isinstance(x, str) for x in v), "must name at least one kind"),
        Param("min_posts", int, 2, "Posts a member needs before any behavioural rule (producer by approval, "
              "requester, social, replier) can apply; each rule also needs its significance test.",
              lambda v: v >= 1, "must be >= 1"),
        Param("alpha", float, 0.01, "Significance level of the one-sided tests that a member's share or rate "
              "exceeds the forum's (binomial for shares, Poisson for thanks).", lambda v: 0 < v < 1,
              "must be in (0, 1)"),
        Param("producer_min_attachments", int, 2, "Attachment records a producer has shared at least.",
              lambda v: v >= 1, "must be >= 1"),
        Param("producer_min_attachment_rate", float, 0.02, "Attachment records per post a producer reaches "
              "at least (with producer_min_attachments).", lambda v: v >= 0, "must be >= 0"),
        Param("producer_thanks_ratio", float, 2.5, "Approval received per post, relative to the forum's "
              "approval per post, from which a member is a producer by thanks (with the Poisson test).",
              lambda v: v > 1, "must be > 1"),
        Param("requester_min_thread_share", float, 0.25, "Share of a member's posts that open a thread, "
              "from which they are a requester (with the binomial test against the forum's share).",
              lambda v: 0 < v <= 1, "must be in (0, 1]"),
        Param("social_min_share", float, 0.5, "Share of a member's posts in social boards from which they "
              "are a social member (with the binomial test against the forum's share).",
              lambda v: 0 < v <= 1, "must be in (0, 1]"),
        Param("replier_min_share", float, 0.9, "Share of a member's posts that reply to someone else from "
              "which they are a replier (with the binomial test against the forum's share).",
              lambda v: 0 < v <= 1, "must be in (0, 1]"),
        Param("social_boards", tuple, (), "Board ids to treat as social boards (overrides inference).",
              lambda v: all(isinstance(x, str) for x in v), "must be a tuple of board ids"),
        Param("social_board_pattern", str, DEFAULT_SOCIAL_BOARD_PATTERN,
              "Regular expression on a board's lower-cased name and description marking it social.",
              _valid_regex, "must be a valid regular expression"),
        Param("infer_social_boards", bool, True, "When no board matches the pattern, infer social boards "
              "from structure (see docs/analyses/roles.md).", None, ""),
        Param("min_board_posts", int, 20, "Boards with fewer posts are never inferred social by structure.",
              lambda v: v >= 0, "must be >= 0"),
    )

    # ------------------------------------------------------------------ boards
    def social_boards_table(self, ctx: StepContext) -> pd.DataFrame:
        """Boards with posts and the social decision. The structural evidence (threads, attachment
        records and approvals per board) is computed only for forums where the structural rule runs."""
        boards = ctx.df(f"""
            WITH bp AS (SELECT forum_id, board_id, count(*) AS posts FROM posts WHERE {forum_where(ctx)}
                        GROUP BY ALL)
            SELECT b.forum_id, b.id AS board_id, b.name, b.description, coalesce(bp.posts, 0) AS posts
            FROM boards b LEFT JOIN bp ON bp.forum_id = b.forum_id AND bp.board_id = b.id
            WHERE {forum_where(ctx, 'b.forum_id')} ORDER BY b.forum_id, b.id""")
        for col in ("threads", "attachments", "approvals"):
            boards[col] = pd.array([pd.NA] * len(boards), dtype="Int64")
        for col in ("posts_per_thread", "attachments_per_post", "approvals_per_post"):
            boards[col] = np.nan
        boards["is_social"] = False
        boards["rule"] = "none"
        pat = re.compile(self.social_board_pattern)
        for fid, idx in boards.groupby("forum_id").groups.items():
            sub = boards.loc[idx]
            if self.social_boards:
                hit = sub["board_id"].isin(self.social_boards)
                boards.loc[idx, "is_social"] = hit.to_numpy()
                boards.loc[idx, "rule"] = np.where(hit, "parameter", "none")
                continue
            text = (sub["name"].fillna("") + " " + sub["description"].fillna("")).str.lower()
            hit = text.map(lambda s: bool(pat.search(s)))
            if hit.any():
                boards.loc[idx, "is_social"] = hit.to_numpy()
                boards.loc[idx, "rule"] = np.where(hit, "name", "none")
                continue
            if not self.infer_social_boards:
                continue
            ev = self._board_structure(ctx, fid)
            sub = sub.drop(columns=["threads", "attachments", "approvals"]).merge(ev, on="board_id", how="left")
            for col in ("threads", "attachments", "approvals"):
                sub[col] = sub[col].fillna(0).astype("int64")
            sub["posts_per_thread"] = _share(sub["posts"], sub["threads"])
            sub["attachments_per_post"] = _share(sub["attachments"], sub["posts"])
            sub["approvals_per_post"] = _share(sub["approvals"], sub["posts"])
            for col in ("threads", "attachments", "approvals", "posts_per_thread", "attachments_per_post",
                        "approvals_per_post"):
                boards.loc[idx, col] = sub[col].to_numpy()
            ok = sub["posts"] >= max(self.min_board_posts, 1)
            if ok.sum() >= 3:
                q = sub[ok]
                hit = (ok & (sub["attachments_per_post"] <= q["attachments_per_post"].median())
                       & (sub["approvals_per_post"] <= q["approvals_per_post"].median())
                       & (sub["posts_per_thread"] > q["posts_per_thread"].median()))
                boards.loc[idx, "is_social"] = hit.to_numpy()
                boards.loc[idx, "rule"] = np.where(hit, "structure", "none")
        return boards

    def _board_structure(self, ctx: StepContext, forum_id: str) -> pd.DataFrame:
        kinds = ", ".join(sql_str(k) for k in self.approval_kinds)
        f = sql_str(forum_id)
        return ctx.df(f"""
            WITH bt AS (SELECT board_id, count(DISTINCT thread_id) AS threads FROM posts WHERE forum_id = {f}
                        GROUP BY ALL),
            ba AS (SELECT p.board_id, count(*) AS attachments FROM attachments a
                   JOIN posts p ON p.forum_id = a.forum_id AND p.id = a.post_id WHERE a.forum_id = {f} GROUP BY ALL),
            bk AS (SELECT p.board_id, count(*) AS approvals FROM interactions i
                   JOIN posts p ON p.forum_id = i.forum_id AND p.id = i.target_post_id
                   WHERE i.kind IN ({kinds}) AND i.forum_id = {f} GROUP BY ALL)
            SELECT bt.board_id, bt.threads, coalesce(ba.attachments, 0) AS attachments,
                   coalesce(bk.approvals, 0) AS approvals
            FROM bt LEFT JOIN ba USING (board_id) LEFT JOIN bk USING (board_id)
            WHERE bt.board_id IS NOT NULL""")

    # ------------------------------------------------------------------ members
    def member_features(self, ctx: StepContext, social_ids: pd.DataFrame) -> pd.DataFrame:
        con = ctx.con
        con.register("_roles_social_boards", social_ids)
        kinds = ", ".join(sql_str(k) for k in self.approval_kinds)
        try:
            df = ctx.df(f"""
                WITH pa AS (
                    SELECT p.forum_id, p.author_id AS user_id, count(*) AS posts,
                           count(*) FILTER (WHERE coalesce(t.first_post_id = p.id, p.position = 0)) AS threads_started,
                           count(*) FILTER (WHERE p.parent_id IS NULL
                                            AND NOT coalesce(t.first_post_id = p.id, p.position = 0, FALSE)
                                            AND t.author_id IS DISTINCT FROM p.author_id) AS unparented_replies,
                           count(*) FILTER (WHERE sb.board_id IS NOT NULL) AS social_posts
                    FROM posts p
                    LEFT JOIN threads t ON t.forum_id = p.forum_id AND t.id = p.thread_id
                    LEFT JOIN _roles_social_boards sb ON sb.forum_id = p.forum_id AND sb.board_id = p.board_id
                    WHERE p.author_id IS NOT NULL AND {forum_where(ctx, 'p.forum_id')}
                    GROUP BY ALL),
                -- a post with a parent replies to someone else when its reply link points at another member
                -- (or at a post whose author is unknown); reply links are derived from posts.parent_id.
                -- Links are counted, not posts (a DISTINCT costs seconds at 10M posts): the sum is capped
                -- at the member's non-opening posts in assign().
                rs AS (SELECT forum_id, source_user_id AS user_id, count(*) AS parented_replies
                       FROM interactions
                       WHERE kind = 'reply' AND source_user_id IS NOT NULL AND post_id IS NOT NULL
                         AND target_user_id IS DISTINCT FROM source_user_id AND {forum_where(ctx)}
                       GROUP BY ALL),
                rr AS (SELECT forum_id, target_user_id AS user_id, count(*) AS replies_received FROM interactions
                       WHERE kind = 'reply' AND target_user_id IS NOT NULL
                         AND source_user_id IS DISTINCT FROM target_user_id AND {forum_where(ctx)} GROUP BY ALL),
                tk AS (SELECT forum_id, target_user_id AS user_id, count(*) AS approvals_received FROM interactions
                       WHERE kind IN ({kinds}) AND target_user_id IS NOT NULL
                         AND source_user_id IS DISTINCT FROM target_user_id AND {forum_where(ctx)} GROUP BY ALL),
                att AS (SELECT a.forum_id, coalesce(a.user_id, ap.author_id) AS user_id, count(*) AS attachments
                       FROM attachments a LEFT JOIN posts ap ON ap.forum_id = a.forum_id AND ap.id = a.post_id
                       WHERE {forum_where(ctx, 'a.forum_id')} AND coalesce(a.user_id, ap.author_id) IS NOT NULL
                       GROUP BY ALL),
                st AS ({staff_sql(ctx, self.staff_group_kinds, self.staff_name_pattern,
                                  self.non_staff_rank_pattern)}),
                mem AS (SELECT forum_id, id AS user_id, TRUE AS registered FROM users
                        WHERE {forum_where(ctx)} AND NOT coalesce(is_bot, FALSE)
                        UNION ALL
                        SELECT pa.forum_id, pa.user_id, FALSE FROM pa
                        ANTI JOIN users u ON u.forum_id = pa.forum_id AND u.id = pa.user_id)
                SELECT m.forum_id, m.user_id, m.registered,
                       coalesce(pa.posts, 0) AS posts, coalesce(pa.threads_started, 0) AS threads_started,
                       coalesce(pa.unparented_replies, 0) + coalesce(rs.parented_replies, 0) AS replies_to_others,
                       coalesce(pa.social_posts, 0) AS social_posts,
                       coalesce(rr.replies_received, 0) AS replies_received,
                       coalesce(tk.approvals_received, 0) AS approvals_received,
                       coalesce(att.attachments, 0) AS attachments,
                       st.staff_evidence
                FROM mem m
                LEFT JOIN pa ON pa.forum_id = m.forum_id AND pa.user_id = m.user_id
                LEFT JOIN rs ON rs.forum_id = m.forum_id AND rs.user_id = m.user_id
                LEFT JOIN rr ON rr.forum_id = m.forum_id AND rr.user_id = m.user_id
                LEFT JOIN tk ON tk.forum_id = m.forum_id AND tk.user_id = m.user_id
                LEFT JOIN att ON att.forum_id = m.forum_id AND att.user_id = m.user_id
                LEFT JOIN st ON st.forum_id = m.forum_id AND st.user_id = m.user_id
                ORDER BY m.forum_id, m.user_id""")
        finally:
            con.unregister("_roles_social_boards")
        return df

    def assign(self, df: pd.DataFrame) -> pd.DataFrame:
        """Apply the rules (in ROLE_ORDER) to member features; adds evidence columns, role and rule."""
        from scipy import stats

        df = df.copy()
        posts = df["posts"].to_numpy(dtype=float)
        df["replies_to_others"] = np.minimum(df["replies_to_others"], df["posts"] - df["threads_started"])
        df["thread_start_share"] = _share(df["threads_started"], posts)
        df["reply_share"] = _share(df["replies_to_others"], posts)
        df["social_share"] = _share(df["social_posts"], posts)
        df["approvals_per_post"] = _share(df["approvals_received"], posts)
        df["attachments_per_post"] = _share(df["attachments"], posts)
        for col in ("forum_thread_start_share", "forum_reply_share", "forum_social_share",
                    "forum_approvals_per_post", "thanks_ratio", "thread_start_p", "reply_p", "social_p",
                    "approvals_p"):
            df[col] = np.nan
        for fid, idx in df.groupby("forum_id").groups.items():
            sub = df.loc[idx]
            total = sub["posts"].sum()
            if total == 0:
                continue
            ts = sub["threads_started"].sum() / total
            ss = sub["social_posts"].sum() / total
            rs = sub["replies_to_others"].sum() / total
            ap = sub["approvals_received"].sum() / total
            n = sub["posts"].to_numpy()
            df.loc[idx, "forum_thread_start_share"] = ts
            df.loc[idx, "forum_social_share"] = ss
            df.loc[idx, "forum_reply_share"] = rs
            df.loc[idx, "forum_approvals_per_post"] = ap
            # one-sided tests: P(X >= observed) under the forum's rate
            df.loc[idx, "thread_start_p"] = np.where(n > 0, stats.binom.sf(sub["threads_started"] - 1, n, ts), np.nan)
            df.loc[idx, "reply_p"] = np.where(n > 0, stats.binom.sf(sub["replies_to_others"] - 1, n, rs), np.nan)
            df.loc[idx, "social_p"] = np.where(n > 0, stats.binom.sf(sub["social_posts"] - 1, n, ss), np.nan)
            df.loc[idx, "approvals_p"] = np.where(n > 0, stats.poisson.sf(sub["approvals_received"] - 1, n * ap)
                                                  if ap > 0 else 1.0, np.nan)
            df.loc[idx, "thanks_ratio"] = (sub["approvals_per_post"] / ap) if ap > 0 else np.nan

        enough = posts >= self.min_posts
        rules = [
            ("lurker", posts == 0, "no posts"),
            ("staff", df["staff_evidence"].notna().to_numpy(), "staff group or special rank"),
            ("producer", ((df["attachments"] >= self.producer_min_attachments)
                          & (df["attachments_per_post"] >= self.producer_min_attachment_rate)).to_numpy(),
             f"attachments >= {self.producer_min_attachments} and attachments per post >= "
             f"{self.producer_min_attachment_rate:g}"),
            ("producer", enough & (df["thanks_ratio"] >= self.producer_thanks_ratio).to_numpy()
             & (df["approvals_p"] < self.alpha).to_numpy(),
             f"approval per post >= {self.producer_thanks_ratio:g} x forum's (Poisson p < {self.alpha:g})"),
            ("requester", enough & (df["thread_start_share"] >= self.requester_min_thread_share).to_numpy()
             & (df["thread_start_p"] < self.alpha).to_numpy(),
             f"thread-start share >= {self.requester_min_thread_share:g} and above forum's "
             f"(binomial p < {self.alpha:g})"),
            ("social", enough & (df["social_share"] >= self.social_min_share).to_numpy()
             & (df["social_p"] < self.alpha).to_numpy(),
             f"social-board share >= {self.social_min_share:g} and above forum's (binomial p < {self.alpha:g})"),
            ("replier", enough & (df["reply_share"] >= self.replier_min_share).to_numpy()
             & (df["reply_p"] < self.alpha).to_numpy(),
             f"share of posts replying to others >= {self.replier_min_share:g} and above forum's "
             f"(binomial p < {self.alpha:g})"),
        ]
        role = np.full(len(df), "regular", dtype=object)
        rule = np.full(len(df), "no other rule matched" , dtype=object)
        done = np.zeros(len(df), dtype=bool)
        for name, mask, text in rules:
            hit = np.asarray(mask, dtype=bool) & ~done
            role[hit] = name
            rule[hit] = text
            done |= hit
        few = ~done & (posts > 0) & ~enough
        rule[few] = f"fewer than {self.min_posts} posts"
        df["role"] = role
        df["rule"] = rule
        df["is_staff"] = df["staff_evidence"].notna()
        return df

    def compute(self, ctx: StepContext) -> dict[str, Any]:
        ctx.progress("roles: boards", 0.0)
        boards = self.social_boards_table(ctx)
        social = boards.loc[boards["is_social"], ["forum_id", "board_id"]].reset_index(drop=True)
        ctx.progress("roles: member features", 0.2)
        feats = self.member_features(ctx, social)
        ctx.progress("roles: rules", 0.8)
        m = self.assign(feats)
        rows = []
        for fid, sub in m.groupby("forum_id", sort=True):
            all_members = len(sub)
            posters = int((sub["posts"] > 0).sum())
            for r in ROLE_ORDER:
                k = int((sub["role"] == r).sum())
                rows.append({"forum_id": fid, "role": r, "members": k, "all_members": all_members,
                             "share_of_all_members": k / all_members if all_members else None,
                             "posters": posters,
                             "share_of_posters": (k / posters if posters else None) if r != "lurker" else None,
                             "registered_members": int(sub["registered"].sum()),
                             "unregistered_posters": int((~sub["registered"]).sum())})
        counts = pd.DataFrame(rows, columns=COUNTS.names)
        return {"roles_members": _arrow(m, MEMBERS), "roles_counts": _arrow(counts, COUNTS),
                "roles_boards": _arrow(boards, BOARDS)}


# ----------------------------------------------------------------------------- validation helper
def agreement_with_truth(members: pd.DataFrame, member_truth: str | Path) -> dict[str, Any]:
    """Compare ``roles_members`` rows with a synthetic forum's ``truth/member_truth.ndjson``.

    Our roles are mapped onto the generator's labels with :data:`TRUTH_MAP` (replier -> regular).
    Returns ``{"n", "agreement", "kappa", "per_role": {role: {truth, predicted, recall, precision}},
    "confusion": DataFrame}``.
    """
    from sklearn.metrics import cohen_kappa_score

    truth = pd.read_json(Path(member_truth), lines=True)[["user_id", "role"]].rename(columns={"role": "truth"})
    m = members[["user_id", "role"]].merge(truth, on="user_id", how="inner")
    m["predicted"] = m["role"].map(TRUTH_MAP)
    per_role = {}
    for r in sorted(set(m["truth"]) | set(m["predicted"])):
        t, p = m["truth"] == r, m["predicted"] == r
        per_role[r] = {"truth": int(t.sum()), "predicted": int(p.sum()),
                       "recall": float((t & p).sum() / t.sum()) if t.sum() else None,
                       "precision": float((t & p).sum() / p.sum()) if p.sum() else None}
    return {"n": len(m), "agreement": float((m["truth"] == m["predicted"]).mean()) if len(m) else None,
            "kappa": float(cohen_kappa_score(m["truth"], m["predicted"])) if len(m) else None,
            "per_role": per_role, "confusion": pd.crosstab(m["truth"], m["predicted"])}
