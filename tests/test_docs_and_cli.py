"""Docs stay true to the code; the CLI speaks in one-line errors and documented exit codes."""

from __future__ import annotations

import json
import re

from forumscope.cli.main import app, main
from forumscope.model import docs
from forumscope.model.schema import TABLES
from forumscope.store.settings import SETTINGS
from conftest import REPO


def test_generated_docs_are_current():
    assert (REPO / "docs" / "data-model.md").read_text() == docs.render_data_model(), \
        "run: python -m forumscope.model.docs"
    assert (REPO / "docs" / "settings.md").read_text() == docs.render_settings()


def test_every_field_and_setting_is_documented():
    model = (REPO / "docs" / "data-model.md").read_text()
    for t in TABLES.values():
        assert f"### `{t.name}`" in model
        for f in t.fields:
            assert f"| `{f.name}` |" in model, (t.name, f.name)
    settings = (REPO / "docs" / "settings.md").read_text()
    for s in SETTINGS:
        assert f"`{s.name}`" in settings


def test_every_command_and_exit_code_is_documented():
    cli = (REPO / "docs" / "cli.md").read_text()
    for cmd in app.registered_commands:
        name = cmd.name or cmd.callback.__name__
        assert f"`forumscope {name}" in cli, name
    for code in (0, 1, 2, 3, 4, 130):
        assert f"| {code} |" in cli


def test_readme_two_commands_and_ci_agree():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    first, second = blocks[0].strip(), blocks[1].strip()
    assert "forumscope demo" in first and "pytest" in second
    assert second in (REPO / ".ci" / "run").read_text()


def test_cli_ingest_and_info(tiny_forum, tmp_path, capsys):
    case = tmp_path / "case"
    assert main(["ingest", str(tiny_forum), "--case", str(case), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["balanced"] and out["reconciliation"]["posts"]["stored"] == 5
    assert main(["info", "--case", str(case), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"]["posts"] == 5
    assert info["members"] == {"registered": 4, "posting": 3, "lurkers": 1, "lurker_share_of_registered": 0.25}
    assert main(["info", "--case", str(case)]) == 0
    assert "lurkers" in capsys.readouterr().out
    audit = [json.loads(x)["command"] for x in (case / "audit.log").read_text().splitlines()]
    assert audit == ["ingest", "info", "info"]


def test_cli_errors_are_one_line_with_exit_codes(tmp_path, tiny_forum, capsys):
    assert main(["info", "--case", str(tmp_path / "nope")]) == 4
    err = capsys.readouterr().err
    assert "not a forumscope case" in err and "Traceback" not in err
    assert main(["ingest", str(tiny_forum), "--case", str(tmp_path / "c"), "--format", "bogus"]) == 2
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "notes.txt").write_text("x")
    assert main(["ingest", str(tmp_path / "odd"), "--case", str(tmp_path / "c")]) == 3
    err = capsys.readouterr().err
    assert "could not recognise" in err and "Traceback" not in err
    assert main(["ingest", "--case", str(tmp_path / "c")]) == 2  # missing argument
    assert main(["--version"]) == 0


def test_cli_export_convokit_round_trip(tiny_forum, tmp_path, capsys):
    case = tmp_path / "case"
    assert main(["ingest", str(tiny_forum), "--case", str(case)]) == 0
    assert main(["export", "--case", str(case), "--format", "convokit", "--out", str(tmp_path / "ck")]) == 0
    assert "5 utterances" in capsys.readouterr().out
    assert main(["ingest", str(tmp_path / "ck"), "--case", str(tmp_path / "back"), "--json"]) == 0
    back = json.loads(capsys.readouterr().out)
    assert back["formats"] == ["convokit"] and back["reconciliation"]["posts"]["stored"] == 5
    assert main(["export", "--case", str(case), "--format", "pdf", "--out", str(tmp_path / "g")]) == 2
    assert main(["export", "--case", str(case), "--format", "gexf", "--out", str(tmp_path / "g.gexf")]) == 0
    import xml.etree.ElementTree as ET

    root = ET.parse(tmp_path / "g.gexf").getroot()
    assert root.tag.endswith("gexf")
    assert main(["export", "--case", str(case), "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "nodes.csv").exists() and (tmp_path / "csv" / "edges.csv").exists()


def test_cli_aliases_runs_and_says_leads(tiny_forum, tmp_path, capsys):
    case = tmp_path / "case"
    assert main(["ingest", str(tiny_forum), "--case", str(case)]) == 0
    capsys.readouterr()
    assert main(["aliases", "--case", str(case), "--out", str(tmp_path / "a.csv")]) == 0
    text = capsys.readouterr().out
    assert "0 accounts with enough text were linked, 3 are too thin" in text  # 3 posting members, too little text
    assert "never identifications" in text and (tmp_path / "a.csv").exists()


def test_every_step_has_an_analysis_page_naming_its_tables_and_parameters():
    from forumscope.pipeline.registry import all_steps, get_step

    for name in all_steps():
        step = get_step(name)
        page = REPO / "docs" / "analyses" / f"{name.replace('_', '-')}.md"
        assert page.exists(), page
        text = page.read_text()
        for table in step.outputs:
            assert table in text, (name, table)
        for p in step.params:
            assert p.name in text, (name, p.name)
