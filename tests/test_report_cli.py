"""`forumscope report` and `forumscope run`: files written, audiences checked, ingest only when needed."""

from __future__ import annotations

import json

from forumscope.cli.main import main


def test_report_command_writes_the_three_outputs(tiny_forum, tmp_path, capsys):
    case = tmp_path / "case"
    assert main(["ingest", str(tiny_forum), "--case", str(case)]) == 0
    assert main(["analyze", "--case", str(case), "--steps", "hierarchy,roles"]) == 0
    capsys.readouterr()
    out = tmp_path / "rep"
    assert main(["report", "--case", str(case), "--audience", "researcher", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "report.html" in text and "sections not run: gating" in text
    data = json.loads((out / "report.json").read_text())
    assert data["audience"] == "researcher"
    status = {s["id"]: s["status"] for s in data["sections"]}
    assert status["status"] == "ok" and status["commitment"] == "partial" and status["gating"] == "not_run"
    assert (out / "report.html").stat().st_size > 100_000 and list((out / "charts").glob("*.png"))
    assert main(["report", "--case", str(case), "--audience", "public", "--out", str(tmp_path / "p"),
                 "--formats", "json"]) == 0
    assert (tmp_path / "p" / "report.json").exists() and not (tmp_path / "p" / "report.html").exists()
    audit = [json.loads(x) for x in (case / "audit.log").read_text().splitlines()]
    assert [a["command"] for a in audit][-2:] == ["report", "report"] and audit[-1]["audience"] == "public"


def test_report_command_refuses_bad_audiences_and_cases(tiny_forum, tmp_path, capsys):
    case = tmp_path / "case"
    assert main(["ingest", str(tiny_forum), "--case", str(case)]) == 0
    assert main(["report", "--case", str(case), "--audience", "press", "--out", str(tmp_path / "o")]) == 2
    assert "choose one of investigator, researcher, public" in capsys.readouterr().err
    assert main(["report", "--case", str(case), "--out", str(tmp_path / "o")]) == 2  # audience is required
    assert main(["report", "--case", str(tmp_path / "nope"), "--audience", "public", "--out", str(tmp_path / "o")]) == 4
    assert main(["report", "--case", str(case), "--audience", "public", "--out", str(tmp_path / "o"),
                 "--forum-id", "other"]) == 2
    assert main(["report", "--case", str(case), "--audience", "public", "--out", str(tmp_path / "o"),
                 "--formats", "pdf"]) == 2
    assert not (tmp_path / "o").exists()


def test_run_ingests_only_when_needed(tiny_forum, tmp_path, capsys):
    case, out = tmp_path / "case", tmp_path / "rep"
    args = ["run", str(tiny_forum), "--case", str(case), "--out", str(out), "--steps", "hierarchy", "--formats",
            "json"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "1/3 ingest (new case)" in text and "hierarchy" in text
    data = json.loads((out / "report.json").read_text())
    assert data["audience"] == "public"  # the default: the least revealing
    assert main(args) == 0
    assert "ingest skipped" in capsys.readouterr().out
    posts = tiny_forum / "posts.ndjson"
    posts.write_text(posts.read_text().replace("hello ann", "hello ann!"))
    assert main(args) == 0
    assert "changed since it was ingested" in capsys.readouterr().out
    assert main(args + ["--reingest"]) == 0
    with open(case / "audit.log") as fh:
        commands = [json.loads(x)["command"] for x in fh]
    assert commands.count("ingest") == 3 and commands.count("run") == 4


def test_report_never_touches_the_network(tiny_forum, tmp_path, monkeypatch):
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted (SAFETY.md: no network at run time)")

    t = tiny_forum / "posts.ndjson"
    t.write_text(t.read_text().replace("hi all", "hi all, see https://example.org/x.png and http://abc.onion"))
    assert main(["ingest", str(tiny_forum), "--case", str(tmp_path / "case")]) == 0
    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert main(["report", "--case", str(tmp_path / "case"), "--audience", "investigator",
                 "--out", str(tmp_path / "r")]) == 0
    assert attempts == [] and (tmp_path / "r" / "report.html").exists()
