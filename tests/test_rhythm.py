"""The rhythm step: hour-of-week profiles, the crowd time-zone mixture and member-level leads.

A 40k-post synthetic forum (planted zones in truth/member_truth.ndjson) is generated and analysed once per
module, with the forum's declared zones used for calibration (the default) and with the shipped Stack
Exchange reference alone. Accuracy is measured only on members who do not declare a zone.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import forumscope
from forumscope.analyze import rhythm as rh
from forumscope.analyze import rhythm_reference as rr
from forumscope.errors import ConfigError
from forumscope.pipeline.runner import run_steps
from forumscope.synth import generate

from conftest import write_forum

N_POSTS = 40_000
OFFSETS = np.arange(-12, 15)
# Regions of the world by UTC offset, for crowd shares that do not depend on one-hour precision.
REGIONS = {"americas": range(-11, -2), "europe_africa": range(-1, 4), "asia_pacific": range(4, 15)}


def _zone_offsets(zone: str, t0: int, t1: int) -> np.ndarray:
    tz = ZoneInfo(zone)
    return np.array([datetime.fromtimestamp(int(t), tz).utcoffset().total_seconds() / 3600
                     for t in np.arange(t0, t1, 86400 * 3)])


def _truth_shares(zones: list[str], offs: dict[str, np.ndarray]) -> np.ndarray:
    """Distribution over whole-hour offsets of members' zones, each zone split by its time at each offset."""
    d = np.zeros(len(OFFSETS))
    for z in zones:
        for o in offs[z]:
            lo = int(np.floor(o))
            f = o - lo
            d[lo + 12] += 1 - f
            if f:
                d[lo + 13] += f
    return d / d.sum()


def _region(d: np.ndarray, name: str) -> float:
    return float(sum(d[o + 12] for o in REGIONS[name]))


def _smooth(d: np.ndarray) -> np.ndarray:
    return np.convolve(d, np.ones(3) / 3, "same")


@pytest.fixture(scope="module")
def synth_case(tmp_path_factory):
    root = tmp_path_factory.mktemp("rhythm")
    generate(root / "forum", posts=N_POSTS, seed=3)
    case = forumscope.create_case(root / "case")
    case.ingest([root / "forum"], fmt="canonical")
    (cal,) = run_steps(case, ["rhythm"], {"rhythm": {"n_boot": 40}})
    (ind,) = run_steps(case, ["rhythm"], {"rhythm": {"n_boot": 0, "calibration": "none"}})
    truth = {}
    with open(root / "forum" / "truth" / "member_truth.ndjson") as fh:
        for line in fh:
            m = json.loads(line)
            truth[m["user_id"]] = m
    t0, t1 = case.con.execute("SELECT epoch(min(created_at))::BIGINT, epoch(max(created_at))::BIGINT "
                              "FROM posts").fetchall()[0]
    offs = {z: _zone_offsets(z, t0, t1) for z in {m["zone"] for m in truth.values()}}
    yield {"case": case, "calibrated": cal.run_id, "independent": ind.run_id, "truth": truth, "offs": offs}
    case.close()


def _crowd(s, run_id):
    case = s["case"]
    est = case.con.execute("SELECT offset_hours, share, ci_low, ci_high FROM rhythm_crowd WHERE run_id = ? "
                           "AND unit = 'forum' ORDER BY offset_hours", [run_id]).fetchall()
    members = case.con.execute("SELECT user_id FROM rhythm_members WHERE run_id = ? AND n_events >= 10",
                               [run_id]).fetchall()
    td = _truth_shares([s["truth"][u]["zone"] for (u,) in members], s["offs"])
    return np.array([r[1] for r in est]), td, est


def _member_accuracy(s, run_id):
    rows = s["case"].con.execute(
        "SELECT user_id, offset_1, cred90_low, cred90_high FROM rhythm_members WHERE run_id = ? "
        "AND status = 'estimated' AND NOT used_for_calibration", [run_id]).fetchall()
    ok = [abs(o - s["offs"][s["truth"][u]["zone"]].mean()) <= 1.0 for u, o, _, _ in rows]
    return float(np.mean(ok)), len(rows)


def test_crowd_recovers_planted_zones_with_declared_calibration(synth_case):
    est, truth, rows = _crowd(synth_case, synth_case["calibrated"])
    assert est.sum() == pytest.approx(1.0)
    for name in REGIONS:
        assert abs(_region(est, name) - _region(truth, name)) <= 0.06, name  # measured <= 0.023
    tvd1 = 0.5 * np.abs(_smooth(est) - _smooth(truth)).sum()
    assert tvd1 <= 0.16, tvd1  # measured 0.10 (seed 3; one-hour TVD 0.22: chronotypes blur single hours)
    for _, share, lo, hi in rows:  # bootstrap intervals bracket the estimate
        assert lo - 1e-6 <= share <= hi + 1e-6
    (cal_members,) = synth_case["case"].con.execute(
        "SELECT calibration_members FROM rhythm_crowd_fit WHERE run_id = ? AND unit = 'forum'",
        [synth_case["calibrated"]]).fetchone()
    assert cal_members >= 30


def test_crowd_with_the_independent_reference_only(synth_case):
    est, truth, _ = _crowd(synth_case, synth_case["independent"])
    for name in REGIONS:  # a Stack Exchange curve on a leisure forum: right regions, coarser shares
        assert abs(_region(est, name) - _region(truth, name)) <= 0.12, name  # measured <= 0.06
    tvd1 = 0.5 * np.abs(_smooth(est) - _smooth(truth)).sum()
    assert tvd1 <= 0.35, tvd1  # measured 0.25


def test_member_offsets_within_one_hour(synth_case):
    acc, n = _member_accuracy(synth_case, synth_case["calibrated"])
    assert n >= 60
    assert acc >= 0.7, (acc, n)  # measured 0.92 of 106 (seed 3); 100k posts: docs/analyses/rhythm.md
    acc_ind, n_ind = _member_accuracy(synth_case, synth_case["independent"])
    assert acc_ind >= 0.3, (acc_ind, n_ind)  # measured 0.41 of 121 (the reference's -1 h bias, see docs)


def test_members_below_min_events_have_no_estimate(synth_case):
    con, run = synth_case["case"].con, synth_case["calibrated"]
    n_users = con.execute("SELECT count(*) FROM users").fetchone()[0]
    assert con.execute("SELECT count(*) FROM rhythm_members WHERE run_id = ?", [run]).fetchone()[0] == n_users
    bad = con.execute("""SELECT count(*) FROM rhythm_members WHERE run_id = ? AND (
                           (n_events < 50 AND (status <> 'insufficient data' OR offset_1 IS NOT NULL
                                               OR zone_1 IS NOT NULL))
                           OR (n_events >= 50 AND status <> 'estimated'))""", [run]).fetchone()[0]
    assert bad == 0
    assert con.execute("SELECT count(*) FROM rhythm_members WHERE run_id = ? AND n_events = 0",
                       [run]).fetchone()[0] > 0  # lurkers are listed too
    sums = con.execute("SELECT user_id, sum(posterior), count(*) FROM rhythm_member_offsets WHERE run_id = ? "
                       "GROUP BY ALL", [run]).fetchall()
    n_est = con.execute("SELECT count(*) FROM rhythm_members WHERE run_id = ? AND status = 'estimated'",
                        [run]).fetchone()[0]
    assert len(sums) == n_est and all(abs(s - 1) < 1e-9 and c == 27 for _, s, c in sums)
    notes = con.execute("SELECT DISTINCT note FROM rhythm_members WHERE run_id = ?", [run]).fetchall()
    assert len(notes) == 1 and notes[0][0].startswith("Lead, not identification")


def test_profiles_add_up(synth_case):
    con, run = synth_case["case"].con, synth_case["calibrated"]
    n_posts = con.execute("SELECT count(*) FROM posts WHERE created_at IS NOT NULL").fetchone()[0]
    by_unit = dict(con.execute("SELECT unit, sum(posts) FROM rhythm_profiles WHERE run_id = ? GROUP BY 1",
                               [run]).fetchall())
    assert by_unit["forum"] == by_unit["board"] == by_unit["language"] == n_posts
    assert con.execute("SELECT min(how), max(how) FROM rhythm_profiles WHERE run_id = ?",
                       [run]).fetchone() == (0, 167)
    small = con.execute("""SELECT count(*) FROM (SELECT key, sum(posts) AS n FROM rhythm_profiles
                           WHERE run_id = ? AND unit = 'member' GROUP BY key) WHERE n < 20""", [run]).fetchone()[0]
    assert small == 0


def _post(f, i, user, ts, board="b1"):
    return {"forum_id": f, "id": f"p{i}", "thread_id": "t1", "board_id": board, "author_id": user,
            "created_at": ts, "text": "x", "language": "en"}


def test_hour_of_week_counts_by_hand(tmp_path):
    f = "hand"
    # 2024-01-01 is a Monday: how = (ISO weekday - 1) * 24 + UTC hour
    posts = [_post(f, 1, "a", "2024-01-01T00:10:00Z"),  # Mon 00 -> 0
             _post(f, 2, "a", "2024-01-01T00:50:00Z"),  # Mon 00 -> 0
             _post(f, 3, "b", "2024-01-03T13:00:00Z"),  # Wed 13 -> 61
             _post(f, 4, "a", "2024-01-07T23:59:59Z", board="b2"),  # Sun 23 -> 167
             _post(f, 5, "b", "2024-01-06T09:30:00+02:00", board="b2")]  # Sat 07 UTC -> 127
    forum = write_forum(tmp_path / "hand", {
        "forums": [{"id": f, "name": "Hand"}],
        "boards": [{"forum_id": f, "id": "b1"}, {"forum_id": f, "id": "b2"}],
        "users": [{"forum_id": f, "id": u} for u in ("a", "b", "c")],
        "threads": [{"forum_id": f, "id": "t1", "board_id": "b1"}],
        "posts": posts})
    case = forumscope.create_case(tmp_path / "case")
    case.ingest([forum])
    (rec,) = run_steps(case, ["rhythm"], {"rhythm": {"profile_min_events": 2, "n_boot": 0}})
    rows = case.con.execute("SELECT unit, key, how, posts FROM rhythm_profiles WHERE run_id = ? "
                            "ORDER BY unit, key, how", [rec.run_id]).fetchall()
    assert rows == [
        ("board", "b1", 0, 2), ("board", "b1", 61, 1), ("board", "b2", 127, 1), ("board", "b2", 167, 1),
        ("forum", "hand", 0, 2), ("forum", "hand", 61, 1), ("forum", "hand", 127, 1), ("forum", "hand", 167, 1),
        ("language", "en", 0, 2), ("language", "en", 61, 1), ("language", "en", 127, 1),
        ("language", "en", 167, 1),
        ("member", "a", 0, 2), ("member", "a", 167, 1), ("member", "b", 61, 1), ("member", "b", 127, 1)]
    members = case.con.execute("SELECT user_id, n_events, n_active_hours, status FROM rhythm_members "
                               "WHERE run_id = ? ORDER BY user_id", [rec.run_id]).fetchall()
    assert members == [("a", 3, 2, "insufficient data"), ("b", 2, 2, "insufficient data"),
                       ("c", 0, 0, "insufficient data")]
    case.close()


def _sample_member(rng, zone: str, n: int, curve: np.ndarray, start: datetime, days: int) -> list[str]:
    """UTC times of ``n`` posts of someone in ``zone`` whose local hour of week follows ``curve``."""
    tz = ZoneInfo(zone)
    out = []
    day0 = start.date()
    while len(out) < n:
        d = day0 + timedelta(days=int(rng.integers(days)))
        wd = d.weekday()
        h = rng.choice(24, p=curve[wd * 24:(wd + 1) * 24] / curve[wd * 24:(wd + 1) * 24].sum())
        local = datetime(d.year, d.month, d.day, int(h), int(rng.integers(60)), tzinfo=tz)
        out.append(local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return sorted(set(out))


# A sharp evening-peaked curve (like the synthetic generator's): this test checks the DST machinery with a
# known curve, passed to the step as its reference; recovery with the shipped reference is tested above.
WEEKDAY = [0.45, 0.25, 0.12, 0.07, 0.05, 0.06, 0.12, 0.25, 0.35, 0.40, 0.45, 0.50, 0.60, 0.55, 0.50, 0.55, 0.65,
           0.75, 0.85, 0.95, 1.00, 1.00, 0.90, 0.70]
WEEKEND = [0.60, 0.40, 0.22, 0.12, 0.07, 0.05, 0.06, 0.10, 0.20, 0.35, 0.50, 0.60, 0.70, 0.75, 0.75, 0.75, 0.80,
           0.85, 0.90, 0.95, 1.00, 1.00, 0.95, 0.80]


def test_dst_evidence_separates_berlin_from_kolkata(tmp_path):
    rng = np.random.default_rng(5)
    curve = rr.curve_from_daily(WEEKDAY, WEEKEND)
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps(rr.reference_document("test-curve", curve, 0.0)))
    f = "dst"
    start = datetime(2021, 1, 1, tzinfo=timezone.utc)
    posts = []
    for user, zone in (("berlin", "Europe/Berlin"), ("kolkata", "Asia/Kolkata")):
        for ts in _sample_member(rng, zone, 3000, curve, start, 730):
            posts.append(_post(f, len(posts) + 1, user, ts))
    forum = write_forum(tmp_path / "dst", {"forums": [{"id": f}], "boards": [{"forum_id": f, "id": "b1"}],
                                           "users": [{"forum_id": f, "id": "berlin"},
                                                     {"forum_id": f, "id": "kolkata"}],
                                           "threads": [{"forum_id": f, "id": "t1", "board_id": "b1"}],
                                           "posts": posts})
    case = forumscope.create_case(tmp_path / "case")
    case.ingest([forum])
    (rec,) = run_steps(case, ["rhythm"], {"rhythm": {"n_boot": 0, "calibration": "none", "reference": str(ref)}})
    m = {r[0]: r for r in case.con.execute(
        "SELECT user_id, dst_pattern, dst_log_bf_northern, zone_1, zone_2, offset_1 FROM rhythm_members "
        "WHERE run_id = ?", [rec.run_id]).fetchall()}
    assert m["berlin"][1] == "northern" and m["berlin"][2] > 3
    assert m["kolkata"][1] in ("none", "undetermined") and m["kolkata"][2] < 0
    assert m["kolkata"][3] == "Asia/Kolkata" and m["kolkata"][5] in (5, 6)
    zones = dict(case.con.execute("SELECT zone, log_likelihood FROM rhythm_member_zones WHERE run_id = ? "
                                  "AND user_id = 'berlin'", [rec.run_id]).fetchall())
    assert m["berlin"][3] == "Europe/Berlin"  # beats Africa/Lagos (same standard offset, no DST)
    assert "Africa/Lagos" not in zones or zones["Europe/Berlin"] > zones["Africa/Lagos"] + 3
    case.close()


def test_forum_id_restricts(tmp_path, tiny_forum):
    case = forumscope.create_case(tmp_path / "case")
    case.ingest([tiny_forum])
    f = "other"
    case.ingest([write_forum(tmp_path / "other", {
        "forums": [{"id": f}], "users": [{"forum_id": f, "id": "z"}],
        "posts": [_post(f, 1, "z", "2024-01-01T05:00:00Z")]})])
    (rec,) = run_steps(case, ["rhythm"], {"rhythm": {"n_boot": 0}}, forum_id="tiny")
    forums = case.con.execute("SELECT DISTINCT forum_id FROM rhythm_profiles WHERE run_id = ? UNION "
                              "SELECT DISTINCT forum_id FROM rhythm_members WHERE run_id = ?",
                              [rec.run_id, rec.run_id]).fetchall()
    assert forums == [("tiny",)]
    case.close()


def test_parameters_are_validated():
    with pytest.raises(ConfigError, match="unknown IANA zone"):
        rh.RhythmStep(zones=("Europe/Berlin", "Mars/Olympus"))
    with pytest.raises(ConfigError, match="calibration"):
        rh.RhythmStep(calibration="twitter")
    with pytest.raises(ConfigError, match="min_events"):
        rh.RhythmStep(min_events=0)
    with pytest.raises(ConfigError, match="neither a shipped reference"):
        rr.load_reference("no-such-reference")


def test_shipped_reference_and_its_provenance():
    ref = rr.load_reference()
    assert ref.curve.shape == (168,) and abs(ref.curve.sum() - 1) < 1e-9 and (ref.curve > 0).all()
    src = ref.provenance["source"]
    assert "se-cardano" not in src["sites"] and src["held_out_for_evaluation"] == ["se-cardano"]
    daily = ref.daily()
    assert 2 <= int(np.argmin(daily)) <= 6  # the night trough, in local time
    assert 0.5 <= ref.chronotype_sd_hours <= 4


@pytest.mark.parametrize("text, zone", [
    ("Chicago, IL", "America/Chicago"), ("London, United Kingdom", "Europe/London"), ("Germany", "Europe/Berlin"),
    ("Portland, OR", "America/Los_Angeles"), ("Victoria, BC, Canada", "America/Vancouver"),
    ("Melbourne VIC, Australia", "Australia/Melbourne"), ("Hanoi, Việt Nam", "Asia/Ho_Chi_Minh"),
    ("United States", None), ("Washington, USA", None), ("London, Ontario", None), ("Earth", None),
    ("Georgia", None), ("Tbilisi, Georgia", None), ("South America", None), ("", None)])
def test_location_gazetteer(text, zone):
    assert rr.zone_for_location(text) == zone


@pytest.mark.parametrize("text, zone", [
    ("Europe/Berlin", "Europe/Berlin"), ("UTC", "UTC"), ("GMT", "UTC"), ("UTC+2", "Etc/GMT-2"),
    ("-05:00", "Etc/GMT+5"), ("+05:30", None), ("Berlin", None), ("../etc/passwd", None), (None, None)])
def test_declared_zone_parsing(text, zone):
    assert rh.parse_declared_zone(text) == zone


def test_seasons_follow_dst_rules():
    t0 = int(datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp())
    t1 = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
    s = rh.build_seasons(t0, t1, ("Europe/Berlin", "America/New_York", "Asia/Kolkata"))
    eu = datetime(2023, 3, 26, 1, tzinfo=timezone.utc).timestamp()  # EU change: 01:00 UTC
    us = datetime(2023, 3, 12, 7, tzinfo=timezone.utc).timestamp()  # US Eastern: 02:00 EST = 07:00 UTC
    assert eu in s.starts and us in s.starts
    i = np.searchsorted(s.starts, [eu - 3600, eu, us - 3600, us], side="right") - 1
    off = s.offsets[s.season[i]]
    assert off[0, 0] == 1 and off[1, 0] == 2 and off[2, 1] == -5 and off[3, 1] == -4
    assert set(s.offsets[:, 2]) == {5.5}


@pytest.mark.slow
def test_shipped_reference_rebuilds_from_shared_data(shared_data, tmp_path):
    case = forumscope.create_case(tmp_path / "se")
    for site in rr.FIT_SITES:
        case.ingest([shared_data / site], fmt="stackexchange")
    doc = rr.build_reference(case.con)
    shipped = json.loads(rr.reference_path().read_text())
    assert np.allclose(doc["curve"], shipped["curve"], atol=1e-6)
    assert doc["chronotype_sd_hours"] == shipped["chronotype_sd_hours"]
    case.close()


def test_gather_by_season_is_the_per_cell_gather():
    """The per-season column selection reads exactly the cells an index per cell would."""
    rng = np.random.default_rng(3)
    rows = []
    for member in range(40):
        for season in sorted(rng.choice(7, size=rng.integers(1, 5), replace=False)):
            for how in rng.choice(168, size=3, replace=False):
                rows.append((f"m{member:02d}", season, how, rng.integers(1, 4)))
    author, season, how, n = (np.array(c) for c in zip(*rows))
    mh = rh.member_hours(author, season, how, n)
    ll_rows = rng.normal(size=(len(mh.row_season), 30))
    idx = rng.integers(0, 30, size=(7, 5))
    got = rh.gather_by_season(mh, ll_rows, idx)
    assert np.array_equal(got, np.take_along_axis(ll_rows, idx[mh.row_season], axis=1))
    assert len(np.unique(mh.row_season)) == 7


def test_member_language_is_the_most_frequent_and_a_tie_goes_alphabetically(tiny_forum, tmp_path):
    """A member's main language: the most frequent among their posts; a tie goes to the first name in
    alphabetical order (not to whichever row the aggregation met first); members without posts kept."""
    from forumscope.pipeline.step import StepContext

    case = forumscope.create_case(tmp_path / "c")
    case.ingest([tiny_forum])
    for post, lang in (("p1", "en"), ("p4", "de"), ("p2", "es"), ("p5", None), ("p3", None)):
        case.con.execute("UPDATE posts SET language = ? WHERE id = ?", [lang, post])
    df = rh.RhythmStep()._member_counts(StepContext(case))
    got = {r.user_id: (r.n_events, r.main_language) for r in df.itertuples()}
    assert {u: got[u] for u in ("u1", "u2", "u3")} == {"u1": (2, "de"), "u2": (2, "es"), "u3": (1, None)}
    assert got["u4"] == (0, None)  # the lurker
    forum = case.con.execute("SELECT any_value(forum_id) FROM posts").fetchall()[0][0]
    one = rh.RhythmStep()._member_counts(StepContext(case, forum_id=forum))  # the forum's filter in every part
    assert {r.user_id: (r.n_events, r.main_language) for r in one.itertuples()} == got
    case.close()
