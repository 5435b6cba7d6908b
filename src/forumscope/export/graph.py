"""Export the interaction graph of a case as GEXF (Gephi), GraphML, or node and edge CSV (ORA, i2).

One directed edge per ordered pair of members who interacted (reply, quote, thanks by default),
weighted by the number of interactions, with the count of each kind and the first and last
interaction time; nodes are the members with at least one such edge (self-loops and interactions
without a known source or target are left out, as in the ``network`` step). Node labels are user
ids, or keyed pseudonyms with ``labels="pseudonym"``; handles are never written.

* **GEXF 1.3** (``fmt="gexf"``): a dynamic graph (``timeformat="dateTime"``, ``timezone="UTC"``);
  every edge carries ``start``/``end`` = its first/last interaction and every node its first/last
  interaction, so Gephi's timeline shows the network growing.
* **GraphML** (``fmt="graphml"``): the same nodes, edges and attributes (times as ISO 8601 text);
  loads in igraph, networkx, Gephi, yEd, Cytoscape.
* **CSV** (``fmt="csv"``): ``out_path`` is a folder that receives ``nodes.csv`` and ``edges.csv``
  (UTF-8, header row, RFC 4180 quoting), the node-list/edge-list pair ORA and i2 Analyst's
  Notebook import.

Forum text is hostile: every label and text attribute is XML-escaped (``& < > " '``; newlines and
tabs as character references), characters XML 1.0 cannot carry (control characters) become
U+FFFD, and CSV text cells starting with ``= + - @`` or a tab/CR get a leading ``'`` so that
spreadsheet programs do not run them as formulas. Several forums may share one file: node ids
are ``n0, n1, ...`` and every node and edge carries ``forum_id``.

When the latest ``network`` run has the combined graph of the same kinds, nodes also carry its
``pagerank``, ``betweenness``, ``core`` and ``community``.

Example::

    from forumscope import open_case
    from forumscope.export.graph import export_graph

    with open_case("my-case") as case:
        export_graph(case, "gexf", "forum.gexf")
        export_graph(case, "csv", "ora-import", forum_id="synth", kinds=("reply",))

Documented in docs/exports.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Sequence

import numpy as np

from forumscope.analyze.graph import COMBINED, DEFAULT_KINDS, InteractionGraph, check_kinds, load_graphs
from forumscope.errors import UsageError

FORMATS = ("gexf", "graphml", "csv")
LABELS = ("user_id", "pseudonym")
NETWORK_FIELDS = (("pagerank", "double"), ("betweenness", "double"), ("core", "long"), ("community", "long"))

_XML_BAD = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class GraphExport:
    """What :func:`export_graph` wrote."""

    format: str
    paths: tuple[Path, ...]
    forums: tuple[str, ...]
    nodes: int
    edges: int


def export_graph(case: Any, fmt: str, out_path: str | Path, forum_id: str | None = None,
                 kinds: Sequence[str] = DEFAULT_KINDS, *, labels: str = "user_id") -> GraphExport:
    """Write the interaction graph of ``case`` (all forums, or ``forum_id``) as ``fmt``.

    ``fmt``: ``gexf`` | ``graphml`` | ``csv``. ``out_path``: the file to write (gexf, graphml) or the
    folder for ``nodes.csv`` and ``edges.csv`` (csv; created when missing). ``kinds``: interaction
    kinds combined into the graph. ``labels``: ``user_id`` (default) or ``pseudonym`` (the case's
    keyed pseudonyms; user ids are then not written at all). Existing files are overwritten.
    Raises :class:`forumscope.errors.UsageError` for an unknown format, label mode or kind, or a
    ``forum_id`` the case does not have.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown graph export format {fmt!r}; formats: {', '.join(FORMATS)}")
    if labels not in LABELS:
        raise UsageError(f"labels must be one of {', '.join(LABELS)}, got {labels!r}")
    try:
        kinds = check_kinds(kinds, "export")
    except Exception as exc:  # ConfigError -> the person asked for something impossible
        raise UsageError(str(exc)) from exc
    if forum_id is not None and not case.con.execute(
            "SELECT 1 FROM forums WHERE id = ? UNION SELECT 1 FROM interactions WHERE forum_id = ? LIMIT 1",
            [forum_id, forum_id]).fetchall():
        raise UsageError(f"no forum {forum_id!r} in this case")
    graphs = load_graphs(case.con, kinds=kinds, mode="combined", forum_id=forum_id, per_kind_counts=True)
    table = _Tables.build(case, graphs, kinds, labels)
    out = Path(out_path)
    if fmt == "csv":
        out.mkdir(parents=True, exist_ok=True)
        paths = (out / "nodes.csv", out / "edges.csv")
        _write_csv(table, paths[0], paths[1])
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        paths = (out,)
        with open(out, "w", encoding="utf-8", newline="\n") as fh:
            (_write_gexf if fmt == "gexf" else _write_graphml)(table, fh)
    return GraphExport(fmt, paths, tuple(g.forum_id for g in graphs), table.n_nodes, table.n_edges)


# ------------------------------------------------------------------ the tables all formats write

@dataclass
class _Tables:
    kinds: tuple[str, ...]
    labels_mode: str
    # nodes
    node_forum: list[str]
    node_user: list[str]
    node_label: list[str]
    node_cols: dict[str, np.ndarray]  # numeric node attributes
    node_first: list[str | None]
    node_last: list[str | None]
    # edges (node ids as integers)
    src: np.ndarray
    dst: np.ndarray
    edge_forum: list[str]
    weight: np.ndarray
    kind_counts: dict[str, np.ndarray]
    edge_first: list[str | None]
    edge_last: list[str | None]
    network_fields: tuple[tuple[str, str], ...]

    @property
    def n_nodes(self) -> int:
        return len(self.node_user)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    @staticmethod
    def build(case: Any, graphs: list[InteractionGraph], kinds: tuple[str, ...], labels: str) -> "_Tables":
        net = _network_attributes(case, kinds, [g.forum_id for g in graphs])
        node_forum: list[str] = []
        node_user: list[str] = []
        cols: dict[str, list[np.ndarray]] = {c: [] for c in ("in_degree", "out_degree", "in_strength",
                                                             "out_strength")}
        netcols: dict[str, list[np.ndarray]] = {c: [] for c, _ in NETWORK_FIELDS}
        first: list[np.ndarray] = []
        last: list[np.ndarray] = []
        src, dst, weight, ef, el, eforum = [], [], [], [], [], []
        kc: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
        offset = 0
        for g in graphs:
            n = g.n_nodes
            if n == 0:
                continue
            users = [str(u) for u in g.user_ids]
            node_forum.extend([g.forum_id] * n)
            node_user.extend(users)
            cols["in_degree"].append(np.bincount(g.target, minlength=n))
            cols["out_degree"].append(np.bincount(g.source, minlength=n))
            cols["in_strength"].append(np.bincount(g.target, weights=g.weight, minlength=n).astype(np.int64))
            cols["out_strength"].append(np.bincount(g.source, weights=g.weight, minlength=n).astype(np.int64))
            f, l_ = g.node_times()
            first.append(f)
            last.append(l_)
            if net:
                lookup = net.get(g.forum_id, {})
                for i, (c, _) in enumerate(NETWORK_FIELDS):
                    netcols[c].append(np.array([lookup.get(u, (np.nan,) * 4)[i] for u in users], dtype=np.float64))
            src.append(g.source + offset)
            dst.append(g.target + offset)
            weight.append(g.weight)
            for k in kinds:
                kc[k].append(g.kind_weights[k])
            ef.append(g.first_at)
            el.append(g.last_at)
            eforum.extend([g.forum_id] * g.n_edges)
            offset += n
        if labels == "pseudonym":
            node_label = [case.pseudonym(f, u) for f, u in zip(node_forum, node_user)]
        else:
            node_label = list(node_user)

        def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        node_cols = {c: cat(v, np.int64) for c, v in cols.items()}
        fields: tuple[tuple[str, str], ...] = ()
        if net:
            fields = NETWORK_FIELDS
            for c, _ in NETWORK_FIELDS:
                node_cols[c] = cat(netcols[c], np.float64)
        return _Tables(kinds, labels, node_forum, node_user, node_label, node_cols,
                       _iso(cat(first, "datetime64[us]")), _iso(cat(last, "datetime64[us]")),
                       cat(src, np.int64), cat(dst, np.int64), eforum, cat(weight, np.int64),
                       {k: cat(v, np.int64) for k, v in kc.items()},
                       _iso(cat(ef, "datetime64[us]")), _iso(cat(el, "datetime64[us]")), fields)


def _network_attributes(case: Any, kinds: tuple[str, ...], forums: list[str]) -> dict[str, dict[str, tuple]]:
    """forum -> user -> (pagerank, betweenness, core, community) from the latest network run, when it
    has the combined graph of these kinds for every exported forum; else {}."""
    from forumscope.pipeline.runner import latest_run_id

    run = latest_run_id(case, "network")
    if run is None or not forums:
        return {}
    have = {r[0] for r in case.con.execute(
        "SELECT forum_id FROM network_graphs WHERE run_id = ? AND graph = ? AND kinds = ? AND nodes > 0",
        [run, COMBINED, ",".join(kinds)]).fetchall()}
    if not have:
        return {}
    out: dict[str, dict[str, tuple]] = {}
    for fid, user, pr, b, core, com in case.con.execute(
            "SELECT forum_id, user_id, pagerank, betweenness, core, community FROM network_nodes "
            "WHERE run_id = ? AND graph = ?", [run, COMBINED]).fetchall():
        if fid in have:
            out.setdefault(fid, {})[user] = (pr, b, core, com)
    return out


def _iso(values: np.ndarray) -> list[str | None]:
    """datetime64 -> 'YYYY-MM-DDTHH:MM:SS' (UTC, whole seconds), None for NaT."""
    out = np.datetime_as_string(values.astype("datetime64[s]"), unit="s")
    nat = np.isnat(values)
    return [None if m else s for s, m in zip(out.tolist(), nat.tolist())]


# ------------------------------------------------------------------ escaping

def xml_text(value: Any) -> str:
    """Escape forum text for an XML attribute value or element text (XML 1.0)."""
    s = _XML_BAD.sub("\ufffd", str(value))
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("'", "&apos;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def csv_text(value: Any) -> str:
    """A text cell safe to open in a spreadsheet (no formula injection)."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_CSV_FORMULA) else s


def _num(v: Any, kind: str) -> str:
    if kind == "long":
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(int(v))
    return "" if v is None or np.isnan(v) else repr(float(v))


# ------------------------------------------------------------------ writers

def _node_attr_specs(t: _Tables) -> list[tuple[str, str]]:
    specs = [("forum_id", "string")]
    if t.labels_mode == "user_id":
        specs.append(("user_id", "string"))
    specs += [("in_degree", "long"), ("out_degree", "long"), ("in_strength", "long"), ("out_strength", "long")]
    specs += list(t.network_fields)
    specs += [("first_at", "string"), ("last_at", "string")]
    return specs


def _edge_attr_specs(t: _Tables) -> list[tuple[str, str]]:
    return [("forum_id", "string"), *((k, "long") for k in t.kinds), ("first_at", "string"),
            ("last_at", "string")]


def _node_value(t: _Tables, i: int, name: str) -> Any:
    if name == "forum_id":
        return t.node_forum[i]
    if name == "user_id":
        return t.node_user[i]
    if name == "first_at":
        return t.node_first[i]
    if name == "last_at":
        return t.node_last[i]
    return t.node_cols[name][i]


def _edge_value(t: _Tables, j: int, name: str) -> Any:
    if name == "forum_id":
        return t.edge_forum[j]
    if name == "first_at":
        return t.edge_first[j]
    if name == "last_at":
        return t.edge_last[j]
    return t.kind_counts[name][j]


def _fmt(value: Any, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "string":
        return xml_text(value)
    s = _num(value, kind)
    return s or None


def _write_gexf(t: _Tables, fh: IO[str]) -> None:
    nspecs, especs = _node_attr_specs(t), _edge_attr_specs(t)
    gexf_type = {"string": "string", "long": "long", "double": "double"}
    w = fh.write
    w('<?xml version="1.0" encoding="UTF-8"?>\n')
    w('<gexf xmlns="http://gexf.net/1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
      'xsi:schemaLocation="http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd" version="1.3">\n')
    w(f'  <meta lastmodifieddate="{dt.date.today().isoformat()}">\n    <creator>forumscope</creator>\n'
      f'    <description>interaction graph ({xml_text(", ".join(t.kinds))}); node labels: '
      f'{xml_text(t.labels_mode)}</description>\n  </meta>\n')
    w('  <graph mode="dynamic" defaultedgetype="directed" timeformat="dateTime" timerepresentation="interval" '
      'timezone="UTC">\n')
    w('    <attributes class="node" mode="static">\n')
    for i, (name, kind) in enumerate(nspecs):
        w(f'      <attribute id="n{i}" title="{name}" type="{gexf_type[kind]}"/>\n')
    w('    </attributes>\n    <attributes class="edge" mode="static">\n')
    for i, (name, kind) in enumerate(especs):
        w(f'      <attribute id="e{i}" title="{name}" type="{gexf_type[kind]}"/>\n')
    w('    </attributes>\n    <nodes>\n')
    for i in range(t.n_nodes):
        span = _span(t.node_first[i], t.node_last[i])
        vals = "".join(f'<attvalue for="n{a}" value="{v}"/>' for a, (name, kind) in enumerate(nspecs)
                       if (v := _fmt(_node_value(t, i, name), kind)) is not None)
        w(f'      <node id="n{i}" label="{xml_text(t.node_label[i])}"{span}><attvalues>{vals}</attvalues></node>\n')
    w('    </nodes>\n    <edges>\n')
    for j in range(t.n_edges):
        span = _span(t.edge_first[j], t.edge_last[j])
        vals = "".join(f'<attvalue for="e{a}" value="{v}"/>' for a, (name, kind) in enumerate(especs)
                       if (v := _fmt(_edge_value(t, j, name), kind)) is not None)
        w(f'      <edge id="e{j}" source="n{t.src[j]}" target="n{t.dst[j]}" weight="{int(t.weight[j])}"{span}>'
          f'<attvalues>{vals}</attvalues></edge>\n')
    w('    </edges>\n  </graph>\n</gexf>\n')


def _span(first: str | None, last: str | None) -> str:
    return (f' start="{first}"' if first else "") + (f' end="{last}"' if last else "")


def _write_graphml(t: _Tables, fh: IO[str]) -> None:
    nspecs, especs = _node_attr_specs(t), _edge_attr_specs(t)
    w = fh.write
    w('<?xml version="1.0" encoding="UTF-8"?>\n')
    w('<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
      'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
      'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n')
    w('  <key id="label" for="node" attr.name="label" attr.type="string"/>\n')
    for name, kind in nspecs:
        w(f'  <key id="v_{name}" for="node" attr.name="{name}" attr.type="{kind}"/>\n')
    w('  <key id="weight" for="edge" attr.name="weight" attr.type="long"/>\n')
    for name, kind in especs:
        w(f'  <key id="e_{name}" for="edge" attr.name="{name}" attr.type="{kind}"/>\n')
    w('  <graph id="interactions" edgedefault="directed">\n')
    for i in range(t.n_nodes):
        vals = "".join(f'<data key="v_{name}">{v}</data>' for name, kind in nspecs
                       if (v := _fmt(_node_value(t, i, name), kind)) is not None)
        w(f'    <node id="n{i}"><data key="label">{xml_text(t.node_label[i])}</data>{vals}</node>\n')
    for j in range(t.n_edges):
        vals = "".join(f'<data key="e_{name}">{v}</data>' for name, kind in especs
                       if (v := _fmt(_edge_value(t, j, name), kind)) is not None)
        w(f'    <edge id="e{j}" source="n{t.src[j]}" target="n{t.dst[j]}"><data key="weight">{int(t.weight[j])}'
          f'</data>{vals}</edge>\n')
    w('  </graph>\n</graphml>\n')


def _write_csv(t: _Tables, nodes_path: Path, edges_path: Path) -> None:
    nspecs, especs = _node_attr_specs(t), _edge_attr_specs(t)
    with open(nodes_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label", *(n for n, _ in nspecs)])
        for i in range(t.n_nodes):
            row = [f"n{i}", csv_text(t.node_label[i])]
            for name, kind in nspecs:
                v = _node_value(t, i, name)
                row.append(csv_text(v) if kind == "string" else _num(v, kind))
            w.writerow(row)
    with open(edges_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "target", "weight", *(n for n, _ in especs)])
        for j in range(t.n_edges):
            row = [f"n{t.src[j]}", f"n{t.dst[j]}", str(int(t.weight[j]))]
            for name, kind in especs:
                v = _edge_value(t, j, name)
                row.append(csv_text(v) if kind == "string" else _num(v, kind))
            w.writerow(row)
