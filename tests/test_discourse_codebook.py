"""Codebooks: the shipped ones are valid and safe; bad files fail with file, line and field."""

from __future__ import annotations

import re

import pytest

from forumscope.cli.main import main
from forumscope.discourse.codebook import load_codebook, parse_codebook, shipped_codebooks
from forumscope.errors import ConfigError, InputError
from forumscope.synth.text import LABELS

GOOD = """\
id: mini
version: "1"
languages: [en, de]
references: ["Someone (2020). A paper."]
help_seeking_code: ask
codes:
  - id: ask
    label: Asks
    definition: Asks for help.
    examples: ["How do I fix this?"]
    lexicon:
      en: [how do i, fix*]
      de: [wie kann ich]
    patterns:
      en: ['\\?\\s*$']
  - id: clinical
    label: A clinical construct
    definition: A definition only.
    definition_only: true
    level: post
"""


def test_shipped_codebooks_load():
    assert {"operating-model", "ward-keenan", "crime-script", "advice"} <= set(shipped_codebooks())
    for name in shipped_codebooks():
        cb = load_codebook(name)
        assert cb.id == name and cb.version and cb.codes and cb.references
        for code in cb.codes:
            assert code.definition and code.label


def test_operating_model_codes_cover_the_planted_labels():
    cb = load_codebook("operating-model")
    assert set(LABELS) <= set(cb.code_ids)
    assert cb.help_seeking_code == "help_seeking"
    # every code the issue lists is there, with examples (benign) and an English lexicon
    for code in cb.codes:
        assert code.examples and code.lexicon.get("en"), code.id


def test_ward_keenan_is_definitions_only():
    cb = load_codebook("ward-keenan")
    assert len(cb.codes) == 5
    for code in cb.codes:
        assert code.definition_only and not code.examples and not code.lexicon and not code.patterns


def test_child_abuse_specific_codes_carry_definitions_only():
    """SAFETY.md: a code about abuse of children has a clinical definition and nothing else; examples in
    every codebook are from benign domains (no word about children, sex or abuse in any example)."""
    risky = re.compile(r"\b(child\w*|minor\w*|abuse\w*|sexual\w*|exploitation)\b", re.I)
    for name in shipped_codebooks():
        for code in load_codebook(name).codes:
            if risky.search(code.id.replace("_", " ")) or risky.search(code.label):
                assert code.definition_only, (name, code.id)
            for text in (*code.examples, *(x for v in code.lexicon.values() for x in v)):
                assert not risky.search(text), (name, code.id, text)


def test_parse_good_codebook():
    cb = parse_codebook(GOOD, "good.yaml")
    assert cb.code_ids == ["ask", "clinical"]
    assert cb.code("ask").lexicon == {"en": ("how do i", "fix*"), "de": ("wie kann ich",)}
    assert cb.code("clinical").definition_only and cb.code("clinical").level == "post"
    assert cb.languages == ("en", "de") and cb.help_seeking_code == "ask"


@pytest.mark.parametrize("change, line, field", [
    (("    definition: Asks for help.\n", ""), 7, "codes[0].definition"),               # missing: names the code
    (("    label: Asks\n", "    label: Asks\n    colour: red\n"), 9, "codes[0].colour"),  # unknown field
    (("      en: ['\\?\\s*$']", "      en: ['(unclosed']"), 15, "codes[0].patterns.en[0]"),
    (("  - id: clinical", "  - id: ask"), 16, "codes[1].id"),                          # duplicate id
    (("      de: [wie kann ich]", "      fr: [comment]"), 13, "codes[0].lexicon.fr"),  # language not declared
    (("    examples: [\"How do I fix this?\"]\n", ""), None, None),                     # fine without examples
    (("    level: post", "    level: paragraph"), 20, "codes[1].level"),
    (("help_seeking_code: ask", "help_seeking_code: nobody"), 5, "help_seeking_code"),
    (("    level: post", "    level: post\n    examples: [x]"), 21, "codes[1].examples"),  # definition_only + example
])
def test_errors_name_file_line_and_field(change, line, field):
    text = GOOD.replace(*change)
    assert text != GOOD
    if field is None:
        parse_codebook(text, "cb.yaml")
        return
    with pytest.raises(ConfigError) as e:
        parse_codebook(text, "cb.yaml")
    assert e.value.path == "cb.yaml" and e.value.line == line, e.value.one_line()
    assert f"field {field}:" in e.value.one_line()


def test_broken_yaml_and_unknown_names():
    with pytest.raises(InputError) as e:
        parse_codebook("id: x\ncodes: [a, b\n", "broken.yaml")
    assert e.value.path == "broken.yaml" and e.value.line == 3
    with pytest.raises(ConfigError, match="unknown codebook 'nope'"):
        load_codebook("nope")
    with pytest.raises(ConfigError, match="not found"):
        load_codebook("/nonexistent/file.yaml")


def test_cli_codebook_validate(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert main(["codebook", "validate", str(good)]) == 0
    assert "valid codebook mini" in " ".join(capsys.readouterr().out.split())
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("    definition: Asks for help.\n", ""))
    assert main(["codebook", "validate", str(bad)]) == 2
    msg = " ".join(capsys.readouterr().err.split())
    assert "bad.yaml, line 7: field codes[0].definition: is required" in msg and "Traceback" not in msg
    assert main(["codebook", "list"]) == 0
    assert "operating-model" in capsys.readouterr().out
