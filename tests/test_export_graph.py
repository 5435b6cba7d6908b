"""Graph exports: GEXF parses as XML with hostile labels escaped and time intervals for Gephi's
timeline; GraphML loads in igraph and networkx; the CSV pair round-trips; pseudonym labels leave
no user id behind."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import pytest

import forumscope
from conftest import write_forum
from forumscope.errors import UsageError
from forumscope.export.graph import csv_text, export_graph, xml_text
from forumscope.pipeline.runner import run_steps

HOSTILE = ["<script>alert(1)</script>", "a&b", "\"q'uote\"", "=HYPERLINK(\"http://x\")", "line\nbreak", "plain"]
GEXF = "{http://gexf.net/1.3}"
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Six members with hostile ids; each replies to the one before; the second also thanks the first."""
    tmp = tmp_path_factory.mktemp("hostile")
    f = "f<&>"
    posts = [{"forum_id": f, "id": f"p{i}", "author_id": u, "thread_id": "t1",
              "created_at": f"2022-05-0{i + 1}T12:00:00Z", "text": "<b>hi</b> & bye"} for i, u in enumerate(HOSTILE)]
    for i in range(1, len(HOSTILE)):
        posts[i]["parent_id"] = f"p{i - 1}"
    tables = {"forums": [{"id": f, "name": "<forum>"}],
              "users": [{"forum_id": f, "id": u, "name": "handle" + u} for u in HOSTILE],
              "posts": posts,
              "interactions": [{"forum_id": f, "id": "th", "kind": "thanks", "source_user_id": HOSTILE[1],
                                "target_post_id": "p0", "created_at": "2022-05-09T00:00:00Z"}]}
    forumscope.ingest_sources([write_forum(tmp / "forum", tables)], tmp / "case")
    case = forumscope.open_case(tmp / "case")
    yield case, tmp
    case.close()


def test_gexf_is_valid_xml_with_escaped_labels_and_time_intervals(hostile):
    case, tmp = hostile
    run_steps(case, ["network"], {"network": {"n_null": 0}})
    res = export_graph(case, "gexf", tmp / "g.gexf")
    assert (res.nodes, res.edges, res.forums) == (6, 5, ("f<&>",))
    text = (tmp / "g.gexf").read_text(encoding="utf-8")
    assert "<script>" not in text and "a&b" not in text and "handle" not in text
    root = ET.fromstring(text)
    graph = root.find(f"{GEXF}graph")
    assert graph.get("mode") == "dynamic" and graph.get("timeformat") == "dateTime"
    nodes = graph.find(f"{GEXF}nodes").findall(f"{GEXF}node")
    assert sorted(n.get("label") for n in nodes) == sorted(HOSTILE)
    assert all(n.get("start") and n.get("end") for n in nodes)
    titles = {a.get("id"): a.get("title") for a in graph.iter(f"{GEXF}attribute")}
    first = nodes[0]
    values = {titles[v.get("for")]: v.get("value") for v in first.iter(f"{GEXF}attvalue")}
    assert values["forum_id"] == "f<&>" and values["user_id"] == first.get("label")
    assert "pagerank" in values and "community" in values  # from the network run
    edges = graph.find(f"{GEXF}edges").findall(f"{GEXF}edge")
    assert sum(int(e.get("weight")) for e in edges) == 6
    thanked = [e for e in edges if e.get("start") != e.get("end")]
    assert len(thanked) == 1  # the reply and the thanks between the same pair: one edge, two times
    assert thanked[0].get("start") == "2022-05-02T12:00:00" and thanked[0].get("end") == "2022-05-09T00:00:00"
    assert thanked[0].get("weight") == "2"


def test_graphml_loads_in_igraph_and_networkx(hostile):
    import igraph as ig

    case, tmp = hostile
    export_graph(case, "graphml", tmp / "g.graphml")
    g = ig.Graph.Read_GraphML(str(tmp / "g.graphml"))
    assert g.is_directed() and (g.vcount(), g.ecount()) == (6, 5)
    assert sorted(g.vs["label"]) == sorted(HOSTILE)
    assert sum(g.es["weight"]) == 6 and sum(g.es["thanks"]) == 1 and sum(g.es["reply"]) == 5
    nx = pytest.importorskip("networkx")  # a bench dependency
    h = nx.read_graphml(tmp / "g.graphml")
    assert sorted(d["label"] for _, d in h.nodes(data=True)) == sorted(HOSTILE)
    labels = {n: d["label"] for n, d in h.nodes(data=True)}
    assert (HOSTILE[0], HOSTILE[1]) in {(labels[b], labels[a]) for a, b in h.edges()}  # the 2nd replied to the 1st


def test_csv_round_trip(hostile):
    case, tmp = hostile
    res = export_graph(case, "csv", tmp / "csv")
    nodes_path, edges_path = res.paths
    with open(nodes_path, encoding="utf-8", newline="") as fh:
        nodes = list(csv.DictReader(fh))
    with open(edges_path, encoding="utf-8", newline="") as fh:
        edges = list(csv.DictReader(fh))
    # formula-like cells get a leading ' (spreadsheet safety); everything else comes back as written
    assert sorted(n["user_id"] for n in nodes) == sorted(csv_text(u) for u in HOSTILE)
    assert "'=HYPERLINK(\"http://x\")" in {n["label"] for n in nodes}
    label = {n["id"]: n["user_id"] for n in nodes}
    got = {(label[e["source"]], label[e["target"]]): int(e["weight"]) for e in edges}
    want = {(csv_text(HOSTILE[i]), csv_text(HOSTILE[i - 1])): 1 for i in range(1, len(HOSTILE))}
    want[(csv_text(HOSTILE[1]), csv_text(HOSTILE[0]))] = 2  # a reply and a thanks
    assert got == want
    assert sum(int(e["reply"]) for e in edges) == 5 and sum(int(e["thanks"]) for e in edges) == 1
    n = {x["user_id"]: x for x in nodes}
    assert (n["plain"]["in_degree"], n["plain"]["out_degree"]) == ("0", "1")
    assert n["plain"]["first_at"] == "2022-05-06T12:00:00"


def test_pseudonym_labels_leave_no_user_ids(hostile):
    case, tmp = hostile
    export_graph(case, "graphml", tmp / "p.graphml", labels="pseudonym")
    text = (tmp / "p.graphml").read_text(encoding="utf-8")
    assert "plain" not in text and "HYPERLINK" not in text and "user_id" not in text
    root = ET.fromstring(text)
    labels = {d.text for d in root.iter(f"{GRAPHML}data") if d.get("key") == "label"}
    assert labels == {case.pseudonym("f<&>", u) for u in HOSTILE}


def test_kinds_forum_and_errors(hostile):
    case, tmp = hostile
    res = export_graph(case, "csv", tmp / "replies", forum_id="f<&>", kinds=("reply",))
    assert (res.nodes, res.edges) == (6, 5)
    with pytest.raises(UsageError, match="format"):
        export_graph(case, "pajek", tmp / "x")
    with pytest.raises(UsageError, match="no forum"):
        export_graph(case, "gexf", tmp / "x.gexf", forum_id="nope")
    with pytest.raises(UsageError, match="kind"):
        export_graph(case, "gexf", tmp / "x.gexf", kinds=("likes",))
    with pytest.raises(UsageError, match="labels"):
        export_graph(case, "gexf", tmp / "x.gexf", labels="handle")


def test_escaping_helpers():
    assert xml_text('<a href="x">&\'\n\x01') == "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&#10;\ufffd"
    ET.fromstring(f'<x a="{xml_text("ctrl:" + chr(0) + chr(8) + chr(0xFFFE))}"/>')  # still well-formed
    assert csv_text("=1+1") == "'=1+1" and csv_text("@cmd") == "'@cmd" and csv_text("ok") == "ok"
