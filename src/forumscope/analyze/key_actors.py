"""Key actors: an explainable, weight-configurable composite score (step ``key_actors``).

Every *actor* of a forum (a member with at least one post or a node of the interaction graph;
lurkers are not actors) gets eight component values:

==============  ==============================================================================
component       value
==============  ==============================================================================
pagerank        PageRank in the interaction graph (``graph``; from the latest ``network`` run)
betweenness     betweenness in that graph (undirected; exact or estimated, see ``network``)
degree          distinct interaction partners in that graph
posts           posts written
staff           1 when in a group of kind admin/moderator/staff or holding a special rank, else 0
thanks          thanks received (``interactions`` of kind ``thanks`` aimed at the member)
attachments     attachment records shared (records only; uploader, else the post's author)
tenure          days between the member's first and last post
==============  ==============================================================================

Each value is normalised within its forum to its percentile rank, ``percent_rank`` =
(number of actors with a smaller value) / (actors - 1), in [0, 1] (ties share the lower rank,
so members without any of it get 0); ``staff`` is used as it is (0 or 1). The score is the
weighted mean of the normalised components, sum(w_c * norm_c) / sum(w_c), in [0, 1]; each
component's *contribution* is w_c * norm_c / sum(w). The breakdown table shows every value,
percentile and contribution, so each score is explained by its parts. Handles are never
output; rows carry user ids (reports pseudonymise them).

Documented in docs/analyses/key-actors.md.

Example::

    >>> run_steps(case, ["network", "key_actors"],
    ...           {"key_actors": {"w_staff": 0.0, "top_k": 10}})                   # doctest: +SKIP
    >>> case.sql("SELECT rank, user_id, score, explanation FROM key_actors_top")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forumscope.analyze.graph import DEFAULT_KINDS, check_kinds, load_graphs
from forumscope.analyze.network import centralities, latest_nodes, validate_graph_param
from forumscope.errors import ConfigError
from forumscope.pipeline.step import Param, Step, StepContext
from forumscope.store.sql import sql_str

COMPONENTS: dict[str, tuple[float, str]] = {  # name -> (default weight, where the value comes from)
    "pagerank": (0.20, "PageRank in the interaction graph (network_nodes.pagerank)"),
    "betweenness": (0.15, "betweenness in the interaction graph, undirected (network_nodes.betweenness)"),
    "degree": (0.15, "distinct interaction partners (network_nodes.degree)"),
    "posts": (0.15, "posts written (posts.author_id)"),
    "staff": (0.10, "member of a group of a staff kind, or holds a special rank (groups, memberships, ranks)"),
    "thanks": (0.10, "thanks received (interactions of kind thanks, target_user_id; self-thanks left out)"),
    "attachments": (0.05, "attachment records shared (attachments.user_id, else the author of post_id)"),
    "tenure": (0.10, "days between first and last post (posts.created_at)"),
}
STAFF_KINDS = ("admin", "moderator", "staff")


def _nonneg(v: Any) -> bool:
    return v >= 0


class KeyActorsStep(Step):
    name = "key_actors"
    description = "Composite key-actor score (centrality, activity, staff role, contribution, tenure) with a breakdown."
    inputs = ("posts", "interactions", "users", "groups", "memberships", "ranks", "attachments")
    outputs = {
        "key_actors_scores": "One row per actor: score, rank and, per component, value, percentile and contribution.",
        "key_actors_top": "The top-k actors per forum with their score explained in words.",
        "key_actors_components": "The components with their weights as used in this run.",
    }
    params = (
        *(Param(f"w_{c}", float, w, f"Weight of the {c} component.", _nonneg, "must be >= 0")
          for c, (w, _) in COMPONENTS.items()),
        Param("top_k", int, 20, "Actors listed in key_actors_top per forum.", lambda v: v > 0, "must be > 0"),
        Param("graph", str, "combined", "Interaction graph for the centralities: combined or one of kinds."),
        Param("kinds", tuple, DEFAULT_KINDS, "Interaction kinds of that graph (as in the network step).",
              lambda v: len(v) > 0, "a non-empty list of kinds"),
        Param("staff_kinds", tuple, STAFF_KINDS, "Group kinds that count as staff.",
              lambda v: all(isinstance(k, str) for k in v), "a list of group kinds"),
        Param("special_rank_is_staff", bool, True, "Count holders of a special (hand-assigned) rank as staff."),
        Param("use_network", bool, True, "Read centralities from the latest network run when it has this graph "
              "with the same kinds; otherwise (or when false) compute them here."),
        Param("seed", int, 1, "Seed for betweenness sampling when centralities are computed here."),
        Param("betweenness_samples", int, 256, "Sampled sources for betweenness computed here (large graphs).",
              lambda v: v > 0, "must be > 0"),
        Param("betweenness_exact_max", int, 2000, "Exact betweenness up to this many members when computed here.",
              _nonneg, "must be >= 0"),
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.kinds = check_kinds(self.kinds, f"step {self.name}: parameter kinds")
        validate_graph_param(self.name, self.graph, self.kinds)
        if sum(self.weights().values()) <= 0:
            raise ConfigError(f"step {self.name}: the component weights must not all be 0")

    def weights(self) -> dict[str, float]:
        return {c: float(getattr(self, f"w_{c}")) for c in COMPONENTS}

    def compute(self, ctx: StepContext) -> dict[str, pa.Table]:
        scores = score_actors(ctx, self)
        return {"key_actors_scores": scores, "key_actors_top": top_table(scores, self.weights(), self.top_k),
                "key_actors_components": components_table(self.weights())}


# ------------------------------------------------------------------ scoring

def _forums(ctx: StepContext) -> list[str]:
    if ctx.forum_id is not None:
        return [ctx.forum_id]
    return [r[0] for r in ctx.con.execute(
        "SELECT id FROM forums UNION SELECT DISTINCT forum_id FROM posts ORDER BY 1").fetchall()]


def centrality_table(ctx: StepContext, step: Any, forums: list[str]) -> pa.Table:
    """forum_id, user_id, degree, pagerank, betweenness, centrality_from: from the latest network run
    where it has the graph with the same kinds, else computed here."""
    from forumscope.pipeline.runner import latest_run_id

    found: dict[str, pa.Table] = {}
    run_id = None
    if step.use_network:
        run_id = latest_run_id(ctx.case, "network")
        found = latest_nodes(ctx.con, run_id, step.graph, step.kinds, forums)
    parts = []
    for fid in forums:
        if fid in found:
            t = found[fid]
            parts.append(pa.table({
                "forum_id": pa.array([fid] * t.num_rows, pa.string()), "user_id": t["user_id"],
                "degree": t["degree"].cast(pa.int64()), "pagerank": t["pagerank"].cast(pa.float64()),
                "betweenness": t["betweenness"].cast(pa.float64()),
                "centrality_from": pa.array([run_id] * t.num_rows, pa.string())}))
            continue
        mode = "combined" if step.graph == "combined" else "separate"
        gs = load_graphs(ctx.con, kinds=step.kinds, mode=mode, forum_id=fid, names=[step.graph])
        for g in gs:
            c = centralities(g, seed=step.seed, exact_max=step.betweenness_exact_max,
                             samples=step.betweenness_samples)
            parts.append(pa.table({
                "forum_id": pa.array([fid] * g.n_nodes, pa.string()), "user_id": pa.array(g.user_ids, pa.string()),
                "degree": pa.array(c.degree, pa.int64()), "pagerank": pa.array(c.pagerank, pa.float64()),
                "betweenness": pa.array(c.betweenness, pa.float64()),
                "centrality_from": pa.array(["computed"] * g.n_nodes, pa.string())}))
    schema = pa.schema([("forum_id", pa.string()), ("user_id", pa.string()), ("degree", pa.int64()),
                        ("pagerank", pa.float64()), ("betweenness", pa.float64()), ("centrality_from", pa.string())])
    return pa.concat_tables(parts) if parts else schema.empty_table()


def score_actors(ctx: StepContext, step: Any) -> pa.Table:
    """The `key_actors_scores` table (without run id) for the forums of ``ctx``."""
    forums = _forums(ctx)
    cent = centrality_table(ctx, step, forums)
    w = step.weights()
    wsum = sum(w.values())
    forum_list = ", ".join(sql_str(f) for f in forums) or "NULL"
    staff_kinds = ", ".join(sql_str(k) for k in step.staff_kinds) or "NULL"
    special = ("UNION SELECT u.forum_id, u.id FROM users u JOIN ranks r ON r.forum_id = u.forum_id "
               "AND r.id = u.rank_id WHERE r.is_special") if step.special_rank_is_staff else ""
    norm = {c: f"percent_rank() OVER (PARTITION BY forum_id ORDER BY {c})" for c in COMPONENTS if c != "staff"}
    norm["staff"] = "staff::DOUBLE"
    contrib = {c: f"{w[c] / wsum!r} * {c}_pct" for c in COMPONENTS}
    name = "_key_actors_centrality"
    ctx.con.register(name, cent)
    try:
        rel = ctx.con.sql(f"""
        WITH p AS (
            SELECT forum_id, author_id AS user_id, count(*) AS posts,
                   (epoch(max(created_at)) - epoch(min(created_at))) / 86400.0 AS tenure
            FROM posts WHERE forum_id IN ({forum_list}) AND coalesce(author_id, '') <> '' GROUP BY ALL),
        th AS (
            SELECT forum_id, target_user_id AS user_id, count(*) AS thanks FROM interactions
            WHERE forum_id IN ({forum_list}) AND kind = 'thanks' AND coalesce(target_user_id, '') <> ''
              AND target_user_id IS DISTINCT FROM source_user_id GROUP BY ALL),
        att AS (
            SELECT a.forum_id, coalesce(nullif(a.user_id, ''), po.author_id) AS user_id, count(*) AS attachments
            FROM attachments a LEFT JOIN posts po ON po.forum_id = a.forum_id AND po.id = a.post_id
            WHERE a.forum_id IN ({forum_list}) GROUP BY ALL),
        st AS (
            SELECT m.forum_id, m.user_id FROM memberships m JOIN groups g
              ON g.forum_id = m.forum_id AND g.id = m.group_id
            WHERE m.forum_id IN ({forum_list}) AND g.kind IN ({staff_kinds}) {special}),
        actors AS (SELECT forum_id, user_id FROM p UNION SELECT forum_id, user_id FROM {name}),
        base AS (
            SELECT a.forum_id, a.user_id,
                   coalesce(c.pagerank, 0.0) AS pagerank, coalesce(c.betweenness, 0.0) AS betweenness,
                   coalesce(c.degree, 0)::BIGINT AS degree, coalesce(p.posts, 0)::BIGINT AS posts,
                   (sf.user_id IS NOT NULL)::BIGINT AS staff,
                   coalesce(th.thanks, 0)::BIGINT AS thanks, coalesce(att.attachments, 0)::BIGINT AS attachments,
                   coalesce(p.tenure, 0.0) AS tenure,
                   coalesce(c.centrality_from, 'none') AS centrality_from
            FROM actors a
            LEFT JOIN {name} c ON c.forum_id = a.forum_id AND c.user_id = a.user_id
            LEFT JOIN p ON p.forum_id = a.forum_id AND p.user_id = a.user_id
            LEFT JOIN th ON th.forum_id = a.forum_id AND th.user_id = a.user_id
            LEFT JOIN att ON att.forum_id = a.forum_id AND att.user_id = a.user_id
            LEFT JOIN (SELECT DISTINCT forum_id, user_id FROM st) sf
              ON sf.forum_id = a.forum_id AND sf.user_id = a.user_id),
        normed AS (
            SELECT *, {", ".join(f"{expr} AS {c}_pct" for c, expr in norm.items())} FROM base),
        contributed AS (
            SELECT *, {", ".join(f"{expr} AS {c}_contribution" for c, expr in contrib.items())} FROM normed),
        scored AS (
            SELECT *, {" + ".join(f"{c}_contribution" for c in COMPONENTS)} AS score FROM contributed)
        SELECT forum_id, user_id,
               row_number() OVER (PARTITION BY forum_id ORDER BY score DESC, user_id) AS rank,
               score,
               {", ".join(f"{c}, {c}_pct, {c}_contribution" for c in COMPONENTS)},
               centrality_from
        FROM scored ORDER BY forum_id, rank""")
        t = (getattr(rel, "to_arrow_table", None) or rel.arrow)()
    finally:
        ctx.con.unregister(name)
    top = pa.array(np.asarray(t["rank"].to_numpy(zero_copy_only=False)) <= step.top_k)
    return t.add_column(4, "top_k", top)


def top_table(scores: pa.Table, weights: dict[str, float], k: int) -> pa.Table:
    """The top-k actors per forum, each score explained by its components (largest contribution first)."""
    rows: dict[str, list] = {c: [] for c in ("forum_id", "rank", "user_id", "score", "main_component",
                                             "main_share", "explanation")}
    wanted = scores.filter(pc.less_equal(scores["rank"], k)).to_pylist() if scores.num_rows else []
    for r in wanted:
        parts = sorted(((r[f"{c}_contribution"], c) for c in COMPONENTS if weights[c] > 0), reverse=True)
        main = parts[0][1] if parts else None
        rows["forum_id"].append(r["forum_id"])
        rows["rank"].append(r["rank"])
        rows["user_id"].append(r["user_id"])
        rows["score"].append(r["score"])
        rows["main_component"].append(main)
        rows["main_share"].append(parts[0][0] / r["score"] if parts and r["score"] else None)
        rows["explanation"].append("; ".join(
            f"{c} {contribution:.3f} (value {_fmt(r[c])}, percentile {100 * r[f'{c}_pct']:.0f})"
            if c != "staff" else f"staff {contribution:.3f} ({'yes' if r['staff'] else 'no'})"
            for contribution, c in parts))
    return pa.table(rows, schema=pa.schema([
        ("forum_id", pa.string()), ("rank", pa.int64()), ("user_id", pa.string()), ("score", pa.float64()),
        ("main_component", pa.string()), ("main_share", pa.float64()), ("explanation", pa.string())]))


def components_table(weights: dict[str, float]) -> pa.Table:
    total = sum(weights.values())
    return pa.table({
        "component": list(COMPONENTS),
        "weight": [weights[c] for c in COMPONENTS],
        "weight_share": [weights[c] / total for c in COMPONENTS],
        "normalisation": ["as is (0 or 1)" if c == "staff" else "percentile rank within the forum"
                          for c in COMPONENTS],
        "source": [COMPONENTS[c][1] for c in COMPONENTS]})


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
