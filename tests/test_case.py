from __future__ import annotations

import json

import pytest

from forumscope.errors import CaseError, ConfigError
from forumscope.store.case import create_case, open_case


def test_case_folder_layout(tmp_path):
    c = create_case(tmp_path / "c")
    for name in ("case.duckdb", "case.toml", "pseudonym.key", "audit.log"):
        assert (c.path / name).exists(), name
    assert set(c.tables()) >= {"posts", "users", "rejects", "runs", "ingest_runs", "evidence", "reconciliation"}
    c.close()


def test_pseudonym_key_is_never_overwritten(tmp_path):
    c = create_case(tmp_path / "c")
    key = (c.path / "pseudonym.key").read_bytes()
    p1 = c.pseudonym("f", "u1")
    c.close()
    c2 = create_case(tmp_path / "c")  # opening again must not re-key
    assert (c2.path / "pseudonym.key").read_bytes() == key
    assert c2.pseudonym("f", "u1") == p1
    assert c2.pseudonym("f", "u2") != p1
    c2.close()
    other = create_case(tmp_path / "other")
    assert other.pseudonym("f", "u1") != p1  # different key, different pseudonym
    other.close()


def test_missing_key_is_an_error_not_a_new_key(tmp_path):
    c = create_case(tmp_path / "c")
    c.close()
    (tmp_path / "c" / "pseudonym.key").unlink()
    with pytest.raises(CaseError, match="pseudonym key"):
        open_case(tmp_path / "c")


def test_not_a_case(tmp_path):
    with pytest.raises(CaseError, match="not a forumscope case"):
        open_case(tmp_path)
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(CaseError, match="not empty"):
        create_case(tmp_path)


def test_settings_are_validated(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting"):
        create_case(tmp_path / "c", settings={"privacy": {"min_cel_size": 5}})
    with pytest.raises(ConfigError, match="must be a int"):
        create_case(tmp_path / "d", settings={"privacy": {"min_cell_size": "5"}})
    c = create_case(tmp_path / "e", settings={"privacy": {"min_cell_size": 5}})
    assert open_case(c.path).settings["privacy"]["min_cell_size"] == 5
    c.close()


def test_audit_log_appends(tmp_path):
    c = create_case(tmp_path / "c")
    c.audit("one", ["a"], "ok")
    c.audit("two", ["b"], "failed")
    lines = (c.path / "audit.log").read_text().splitlines()
    assert [json.loads(x)["command"] for x in lines] == ["one", "two"]
    c.close()
