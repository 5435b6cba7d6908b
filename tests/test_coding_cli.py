"""`forumscope coding ...` end to end on a small synthetic forum: exit codes, output, audit log, docs."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import REPO

from forumscope.cli.coding import coding_app
from forumscope.cli.main import main


@pytest.fixture(scope="module")
def forum(tmp_path_factory):
    from forumscope.synth import generate

    base = tmp_path_factory.mktemp("coding-cli")
    generate(base / "forum", posts=1200, seed=5)
    labels = {}
    for line in (base / "forum" / "truth" / "post_labels.ndjson").read_text().splitlines():
        d = json.loads(line)
        labels[d["post_id"]] = set(d["labels"])
    return base, labels


def fill(sheet, out, labels, coder=None, flip_every=0):
    text = sheet.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    codes = header[8:header.index("coder")]
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for i, row in enumerate(reader):
            for j, code in enumerate(codes):
                v = int(code in labels.get(row["post_id"], ()))
                if flip_every and (i * len(codes) + j) % flip_every == 0:
                    v = 1 - v
                row[code] = str(v)
            if coder:
                row["coder"] = coder
            w.writerow(row)
    return out


def test_coding_commands_end_to_end(forum, tmp_path, capsys):
    base, labels = forum
    case = tmp_path / "case"
    assert main(["ingest", str(base / "forum"), "--case", str(case), "--json"]) == 0
    capsys.readouterr()
    sheet = tmp_path / "sheet.csv"
    assert main(["coding", "export", "--case", str(case), "--size", "150", "--out", str(sheet), "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "wrote 150 posts" in out and (tmp_path / "sheet.codebook.txt").is_file()
    a = fill(sheet, tmp_path / "a.csv", labels, coder="ann")
    b = fill(sheet, tmp_path / "b.csv", labels, flip_every=37)
    assert main(["coding", "import", "--case", str(case), str(a)]) == 0
    assert "stored 150 coded rows" in capsys.readouterr().out
    assert main(["coding", "import", "--case", str(case), str(b), "--coder", "bob"]) == 0
    assert "stored 150 coded rows" in capsys.readouterr().out
    # a sheet naming a coder other than --coder: rows rejected, listed with sheet and line, exit 0
    assert main(["coding", "import", "--case", str(case), str(a), "--coder", "bob",
                 "--rejects", str(tmp_path / "rej.csv")]) == 0
    out = capsys.readouterr().out
    assert "a.csv line 2: coder_mismatch" in out and "150 more" not in out
    rej = list(csv.reader(io.StringIO((tmp_path / "rej.csv").read_text(encoding="utf-8-sig"))))
    assert rej[0] == ["sheet", "line", "reason"] and len(rej) == 151
    assert main(["coding", "agreement", "--case", str(case), "--against-layer", "supervised", "--folds", "3",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    comparisons = {r["comparison"] for r in res["rows"]}
    assert comparisons == {"humans", "model:supervised"}
    social = next(r for r in res["rows"] if r["comparison"] == "humans" and r["code"] == "social_chat")
    assert social["coders"] == 2 and social["items"] == 150 and 0.5 < social["kappa"] < 1.0
    assert main(["coding", "agreement", "--case", str(case)]) == 0
    assert "Krippendorff" in capsys.readouterr().out
    nxt = tmp_path / "next.csv"
    assert main(["coding", "suggest", "--case", str(case), "--size", "12", "--out", str(nxt), "--pool", "300"]) == 0
    assert "most uncertain of 300 scored posts" in capsys.readouterr().out
    assert len(nxt.read_text(encoding="utf-8-sig").splitlines()) == 13
    commands = [json.loads(x)["command"] for x in (case / "audit.log").read_text().splitlines()]
    for c in ("coding export", "coding import", "coding agreement", "coding suggest"):
        assert c in commands


def test_coding_errors_have_exit_codes(forum, tmp_path, capsys):
    base, _ = forum
    assert main(["coding", "export", "--case", str(tmp_path / "nope"), "--size", "5", "--out", "x.csv"]) == 4
    case = tmp_path / "case"
    assert main(["ingest", str(base / "forum"), "--case", str(case), "--json"]) == 0
    assert main(["coding", "export", "--case", str(case), "--size", "5", "--out", str(tmp_path / "x.csv"),
                 "--codebook", "no-such-book"]) == 2
    assert main(["coding", "export", "--case", str(case), "--size", "5", "--out", str(tmp_path / "x.csv"),
                 "--strata", "colour"]) == 2
    assert main(["coding", "agreement", "--case", str(case)]) == 2  # no human codes yet
    bad = tmp_path / "bad.csv"
    bad.write_text("forum_id,post_id,codebook,opsec_advice,sarcasm\nsynth,p1,operating-model,1,0\n")
    assert main(["coding", "import", "--case", str(case), str(bad), "--coder", "x"]) == 3
    err = capsys.readouterr().err
    assert "bad.csv, line 1" in err and "sarcasm" in err
    assert main(["coding", "suggest", "--case", str(case), "--size", "5", "--out", str(tmp_path / "s.csv")]) == 2
    assert main(["coding", "suggest", "--case", str(case), "--size", "5", "--out", str(tmp_path / "s.csv"),
                 "--backend", "bert"]) == 2
    assert "backend must be one of" in capsys.readouterr().err


def test_every_coding_command_is_documented():
    cli = (REPO / "docs" / "cli.md").read_text()
    coding = (REPO / "docs" / "coding.md").read_text()
    for cmd in coding_app.registered_commands:
        assert f"`forumscope coding {cmd.name}" in cli, cmd.name
        assert f"forumscope coding {cmd.name}" in coding, cmd.name
    validation = (REPO / "docs" / "validation.md").read_text()
    assert "## Human coding and agreement" in validation
