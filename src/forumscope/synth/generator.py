"""The synthetic forum generator (see ``docs/synth.md`` for what is planted and why).

Outline
-------
1. *Members* (O(users) numpy arrays): language, zone, chronotype, activity weight,
   career window, roles (staff, hubs, bridges, alias pairs, VIP, producers...),
   writing style. Every poster gets a reserved first post shortly after
   registration, so that "lurker" (no post at all) is exact.
2. *Schedule*: for every UTC hour and every (zone, chronotype) cell the expected
   activity is ``active weight x local rhythm x event multiplier``; one multinomial
   draw spreads all remaining posts over the (hour, cell) grid. Nothing per post
   is kept beyond this grid.
3. *Chunks* of about ``chunk_posts`` posts, in time order: authors are drawn inside
   each (hour, cell) among the members active then (proportional to weight), posts
   get exact seconds, running post counts (for gates), language and board, labels,
   threads and parents (open-thread pools per board, vectorised in small
   sub-batches), quotes, mentions, thanks and attachment records; then the chunk is
   serialised with orjson and appended to the NDJSON files.
4. *End*: users (with actual post counts and ranks), memberships, truth files.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np
import orjson

from forumscope.errors import ConfigError
from forumscope.synth import text as T
from forumscope.synth.params import SynthParams
from forumscope.synth.rhythm import hourly_offsets, local_rate, utc

GENERATOR_VERSION = 1
TABLE_FILES = ("forums", "boards", "users", "ranks", "groups", "memberships", "threads", "posts",
               "interactions", "attachments", "events")
TRUTH_FILE = "truth.json"
POST_LABELS_FILE = "truth/post_labels.ndjson"
MEMBER_TRUTH_FILE = "truth/member_truth.ndjson"
MIN_POSTS = 100

_DUMPS_OPT = orjson.OPT_APPEND_NEWLINE

# Roles (one primary role per poster).
ROLE_REGULAR, ROLE_PRODUCER, ROLE_REQUESTER, ROLE_SOCIAL, ROLE_STAFF = range(5)
ROLE_NAMES = ("regular", "producer", "requester", "social", "staff")
STAFF_NONE, STAFF_ADMIN, STAFF_MOD = 0, 1, 2

# Board kinds.
(K_CATEGORY, K_CHAT, K_PIRACY, K_FARES, K_DOPING, K_HELP, K_MARKET, K_RELEASES, K_ANNOUNCE, K_GATE_POSTS,
 K_GATE_RANK) = range(11)
KIND_NAMES = ("category", "chat", "piracy", "fares", "doping", "help", "market", "releases", "announcements",
              "gated_posts", "gated_rank")
KIND_DOMAIN = {K_PIRACY: 0, K_FARES: 1, K_DOPING: 2, K_RELEASES: 0}  # others: domain drawn per post

BOARD_NAMES = {
    "en": {K_CHAT: "General Chat", K_PIRACY: "Game Mods & Patches", K_FARES: "Public Transport & Fares",
           K_DOPING: "Amateur Sport & Supplements", K_HELP: "Tech Help", K_MARKET: "Requests & Offers"},
    "de": {K_CHAT: "Plauderecke", K_PIRACY: "Mods & Patches", K_FARES: "ÖPNV & Schwarzfahren",
           K_DOPING: "Amateursport", K_HELP: "Technik-Hilfe", K_MARKET: "Suche & Biete"},
    "es": {K_CHAT: "Charla general", K_PIRACY: "Mods y parches", K_FARES: "Transporte y multas",
           K_DOPING: "Deporte amateur", K_HELP: "Ayuda técnica", K_MARKET: "Pedidos y ofertas"},
}
CATEGORY_NAMES = {"en": "English", "de": "Deutsch", "es": "Español"}
BOARD_SLUGS = {K_CHAT: "general", K_PIRACY: "mods", K_FARES: "transit", K_DOPING: "sport", K_HELP: "help",
               K_MARKET: "requests"}
GATE_POSTS_NAME = "Inner Circle"
GATE_RANK_NAME = "Veterans' Lounge"

ATTACH_FILES = (  # (pattern, declared type, median size in bytes) per domain
    (("patch_v{n}.zip", "application/zip", 2_000_000), ("trainer_{n}.rar", "application/x-rar-compressed", 800_000),
     ("modpack_{n}.7z", "application/x-7z-compressed", 40_000_000), ("fix_readme_{n}.txt", "text/plain", 4_000)),
    (("timetable_notes_{n}.pdf", "application/pdf", 300_000), ("route_list_{n}.txt", "text/plain", 6_000)),
    (("training_plan_{n}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 60_000),
     ("race_calendar_{n}.pdf", "application/pdf", 200_000)),
)

_CAP_SLOTS = ("act", "thing", "them", "place")
NAME_ADJ = ("silent", "rusty", "blue", "lazy", "quick", "night", "iron", "happy", "old", "wild", "little", "dark",
            "red", "cool", "lucky", "grey", "brave", "sleepy", "tiny", "mad")
NAME_NOUN = ("fox", "rider", "gamer", "pixel", "wolf", "biker", "coder", "owl", "runner", "ghost", "panda",
             "falcon", "modder", "tiger", "bear", "crow", "otter", "rabbit", "sailor", "badger")
NAME_SEP = ("", "_", ".", "-")


# =============================================================================== helpers
def _iso(sec: np.ndarray, epoch0: int) -> list[str]:
    """ISO 8601 UTC strings ('2021-03-04T10:11:12Z') for seconds since ``epoch0``."""
    if len(sec) == 0:
        return []
    a = (np.asarray(sec, dtype=np.int64) + epoch0).astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(a, unit="s"), "Z").tolist()


def _cumcount(keys: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements (in array order) have the same key."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    start = np.r_[True, sk[1:] != sk[:-1]]
    idx = np.arange(n)
    first = np.maximum.accumulate(np.where(start, idx, 0))
    out = np.empty(n, dtype=np.int64)
    out[order] = idx - first
    return out


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) matrix of non-negative weights."""
    c = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * c[:, -1]
    return np.minimum((c < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _gumbel(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return -np.log(-np.log(rng.random(shape) * (1 - 1e-12) + 1e-300))


class _Writer:
    """Appends NDJSON lines to one file per table and counts them."""

    def __init__(self, out_dir: Path):
        self.paths: dict[str, Path] = {t: out_dir / f"{t}.ndjson" for t in TABLE_FILES}
        self.paths["post_labels"] = out_dir / POST_LABELS_FILE
        self.paths["member_truth"] = out_dir / MEMBER_TRUTH_FILE
        self.files: dict[str, IO[bytes]] = {}
        self.counts: dict[str, int] = {t: 0 for t in self.paths}

    def __enter__(self) -> "_Writer":
        for t, p in self.paths.items():
            self.files[t] = open(p, "wb", buffering=1 << 20)
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files.values():
            f.close()

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        # One dumps per row straight into the buffered file: joining them first would hold
        # every row's (over-allocated) bytes object at once.
        f, dumps = self.files[table].write, orjson.dumps
        for r in rows:
            f(dumps(r, option=_DUMPS_OPT))
        self.counts[table] += len(rows)


# =============================================================================== generator
class _Gen:
    def __init__(self, out_dir: Path, posts: int, seed: int, p: SynthParams,
                 progress: Callable[[int], None] | None):
        self.out = out_dir
        self.n_posts = posts
        self.seed = seed
        self.p = p
        self.progress = progress
        self.fid = p.forum_id
        self.t0 = utc(p.start_datetime())
        self.H = p.days * 24
        self.langs = list(p.languages)
        self.main = self.langs[0]
        self.n_lang = len(self.langs)

    def rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, *stream]))

    # --------------------------------------------------------------------------- boards
    def _boards(self) -> None:
        rows: list[dict[str, Any]] = []
        kinds: list[int] = []
        blang: list[int] = []
        for li, lang in enumerate(self.langs):
            cat = f"{lang}-cat"
            rows.append({"id": cat, "name": CATEGORY_NAMES[lang], "language": lang, "position": li})
            kinds.append(K_CATEGORY)
            blang.append(li)
            specs: list[tuple[int, str, str]] = []
            if lang == self.main:
                specs.append((K_ANNOUNCE, f"{lang}-announce",
                              {"en": "Announcements & Rules", "de": "Ankündigungen & Regeln",
                               "es": "Anuncios y normas"}[lang]))
            for k in (K_CHAT, K_PIRACY, K_FARES, K_DOPING, K_HELP, K_MARKET):
                specs.append((k, f"{lang}-{BOARD_SLUGS[k]}", BOARD_NAMES[lang][k]))
            if lang == self.main:
                specs.append((K_RELEASES, f"{lang}-releases", {"en": "Releases", "de": "Releases",
                                                               "es": "Lanzamientos"}[lang]))
                specs.append((K_GATE_POSTS, f"{lang}-inner", GATE_POSTS_NAME))
                specs.append((K_GATE_RANK, f"{lang}-veterans", GATE_RANK_NAME))
            for j, (k, bid, name) in enumerate(specs):
                rows.append({"id": bid, "parent_id": cat, "name": name, "position": j, "language": lang})
                kinds.append(k)
                blang.append(li)
        self.board_rows = rows
        self.board_ids = [r["id"] for r in rows]
        self.board_kind = np.array(kinds, dtype=np.int64)
        self.board_lang = np.array(blang, dtype=np.int64)
        self.B = len(rows)
        idx = {k: int(np.nonzero(self.board_kind == k)[0][0]) for k in (K_ANNOUNCE, K_RELEASES, K_GATE_POSTS,
                                                                           K_GATE_RANK)}
        self.b_announce, self.b_releases = idx[K_ANNOUNCE], idx[K_RELEASES]
        self.b_gate_posts, self.b_gate_rank = idx[K_GATE_POSTS], idx[K_GATE_RANK]
        # Board choice weights per language (ordinary boards only), before and after the takedown.
        w = np.zeros((self.n_lang, self.B))
        for b in range(self.B):
            k = int(self.board_kind[b])
            if KIND_NAMES[k] in self.p.board_weights:
                w[self.board_lang[b], b] = self.p.board_weights[KIND_NAMES[k]]
        self.board_w_before = w
        wa = w.copy()
        wa[:, self.b_releases] = 0.0
        self.board_w_after = wa

    # --------------------------------------------------------------------------- members
    def _members(self) -> None:
        p, rng = self.p, self.rng(1)
        n_posters = max(p.min_posters, int(round(self.n_posts / p.posts_per_poster)))
        n_posters = min(n_posters, self.n_posts // 2)
        n_users = max(n_posters, int(round(n_posters / (1.0 - p.lurker_share))))
        Np, Nu = n_posters, n_users
        H = self.H
        lang_w = np.array([p.languages[lang] for lang in self.langs], dtype=float)
        lang = rng.choice(self.n_lang, size=Nu, p=lang_w / lang_w.sum())
        # zones: union in order of first appearance
        zones: list[str] = []
        for l_ in self.langs:
            for z in p.zone_mix[l_]:
                if z not in zones:
                    zones.append(z)
        self.zones = zones
        zone = np.zeros(Nu, dtype=np.int64)
        for li, l_ in enumerate(self.langs):
            m = np.nonzero(lang == li)[0]
            names = list(p.zone_mix[l_])
            zw = np.array([p.zone_mix[l_][z] for z in names], dtype=float)
            pick = rng.choice(len(names), size=len(m), p=zw / zw.sum())
            zone[m] = np.array([zones.index(z) for z in names])[pick]
        cw = np.array(p.chronotype_weights, dtype=float)
        chrono = rng.choice(len(cw), size=Nu, p=cw / cw.sum())
        z_act = rng.standard_normal(Nu)
        z_life = 0.5 * z_act + math.sqrt(0.75) * rng.standard_normal(Nu)
        weight = np.exp(p.activity_sigma * z_act)
        g = math.log(max(p.growth, 1.0000001))
        u = rng.random(Nu)
        start_frac = np.log1p(u * (math.exp(g) - 1.0)) / g
        life_days = p.lifetime_median_days * np.exp(p.lifetime_sigma * z_life)
        is_poster = np.zeros(Nu, dtype=bool)
        is_poster[:Np] = True
        weight[Np:] = 0.0

        role = np.full(Nu, ROLE_REGULAR, dtype=np.int64)
        staff = np.full(Nu, STAFF_NONE, dtype=np.int64)
        hub = np.zeros(Nu, dtype=bool)
        bridge = np.zeros(Nu, dtype=bool)
        lang2 = np.full(Nu, -1, dtype=np.int64)
        alias_of = np.full(Nu, -1, dtype=np.int64)
        q = np.quantile(weight[:Np], [0.6, 0.95, 0.97])

        n_mods = max(p.min_moderators, int(round(p.moderator_share * Np)))
        n_hubs = max(p.min_hubs, int(round(p.hub_share * Np)))
        n_pairs = max(p.min_alias_pairs, int(round(p.alias_share * Np / 2)))
        n_bridges = max(p.min_bridges, int(round(p.bridge_share * Np))) if self.n_lang > 1 else 0
        need = p.n_admins + n_mods + n_hubs + 2 * n_pairs + n_bridges
        if need > Np:
            raise ConfigError(f"synth: {Np} posters cannot hold {need} staff, hubs, alias and bridge accounts; "
                              "generate more posts or lower the shares")
        perm = rng.permutation(Np)
        cut = np.cumsum([0, p.n_admins, n_mods, n_hubs, 2 * n_pairs, n_bridges])
        admins, mods, hubs, alias_idx, bridges = (perm[cut[i]:cut[i + 1]] for i in range(5))
        rest = perm[cut[5]:]
        main_i = 0
        # staff: from the start, whole period, very active
        st = np.r_[admins, mods]
        staff[admins] = STAFF_ADMIN
        staff[mods] = STAFF_MOD
        role[st] = ROLE_STAFF
        lang[admins] = main_i
        lang[mods] = np.arange(len(mods)) % self.n_lang
        start_frac[st] = rng.uniform(0.0, 0.02, len(st))
        life_days[st] = p.days * 2.0
        weight[st] = q[1] * rng.uniform(1.0, 2.0, len(st))
        # hubs: early, long careers, very active, spread over languages
        hub[hubs] = True
        lang[hubs] = np.arange(len(hubs)) % self.n_lang
        start_frac[hubs] = rng.uniform(0.0, 0.25, len(hubs))
        life_days[hubs] = np.maximum(life_days[hubs],
                                     (1 - start_frac[hubs]) * p.days * rng.uniform(0.6, 1.0, len(hubs)))
        weight[hubs] = q[2] * rng.uniform(1.5, 3.0, len(hubs))
        # bridges: a second language, moderately active
        if n_bridges:
            bridge[bridges] = True
            lang[bridges] = np.arange(len(bridges)) % self.n_lang
            for b in bridges:
                if lang[b] != main_i:
                    lang2[b] = main_i
                else:
                    lang2[b] = int(rng.integers(1, self.n_lang))
            weight[bridges] = np.maximum(weight[bridges], q[0] * rng.uniform(1.0, 2.5, len(bridges)))
            life_days[bridges] = np.maximum(life_days[bridges], 180.0)
        # zones must match the (possibly reassigned) language
        for grp in (st, hubs, bridges):
            for i in grp:
                names = list(p.zone_mix[self.langs[lang[i]]])
                zw = np.array([p.zone_mix[self.langs[lang[i]]][z] for z in names], dtype=float)
                zone[i] = zones.index(names[int(rng.choice(len(names), p=zw / zw.sum()))])
        # roles for everyone else who posts (also hubs, bridges, aliases)
        non_staff = np.r_[hubs, alias_idx, bridges, rest]
        rp = rng.permutation(non_staff)
        n_prod = max(3, int(round(p.producer_share * Np)))
        n_req = max(3, int(round(p.requester_share * Np)))
        n_soc = max(3, int(round(p.social_share * Np)))
        role[rp[:n_prod]] = ROLE_PRODUCER
        # producers are prolific contributors
        weight[rp[:n_prod]] = np.maximum(weight[rp[:n_prod]], q[0] * rng.uniform(1.0, 3.0, n_prod))
        role[rp[n_prod:n_prod + n_req]] = ROLE_REQUESTER
        role[rp[n_prod + n_req:n_prod + n_req + n_soc]] = ROLE_SOCIAL
        # alias pairs: B copies A's language, zone, chronotype, role; starts later, overlaps
        pairs = alias_idx.reshape(-1, 2)
        if len(pairs):
            a_, b_ = pairs[:, 0], pairs[:, 1]
            for arr in (lang, zone, chrono, role, lang2):
                arr[b_] = arr[a_]
            weight[pairs.ravel()] = np.maximum(weight[pairs.ravel()], q[0] * rng.uniform(1.0, 2.5, 2 * len(pairs)))
            life_days[pairs.ravel()] = np.maximum(life_days[pairs.ravel()], 150.0)
            start_frac[a_] = np.minimum(start_frac[a_], 0.7)
            start_frac[b_] = start_frac[a_] + rng.uniform(0.1, 0.6, len(a_)) * np.minimum(
                life_days[a_] / p.days, 1 - start_frac[a_] - 0.02)
            alias_of[b_] = a_
            alias_of[a_] = b_
        # VIP among non-staff posters
        n_vip = max(2, int(round(p.vip_share * Np)))
        vip = np.zeros(Nu, dtype=bool)
        vip[rng.choice(non_staff, size=min(n_vip, len(non_staff)), replace=False)] = True

        # ---------------------------------------------------------- hours and the first post
        n_chrono = len(p.chronotype_shifts)
        self.n_chrono = n_chrono
        cell = zone * n_chrono + chrono
        self._rhythm_tables()
        start_h = np.clip((start_frac * H).astype(np.int64), 1, H - 2)
        # first post: within a week of joining, following the member's own rhythm
        first_h = np.zeros(Nu, dtype=np.int64)
        todo = np.nonzero(is_poster)[0]
        rmax = self.R.max()
        for _ in range(10_000):
            if len(todo) == 0:
                break
            hh = start_h[todo] + rng.integers(0, p.first_post_within_hours, len(todo))
            hh = np.minimum(hh, H - 1)
            ok = rng.random(len(todo)) * rmax < self.R[hh, cell[todo]]
            first_h[todo[ok]] = hh[ok]
            todo = todo[~ok]
        first_h[todo] = start_h[todo]
        first_sec = first_h * 3600 + rng.integers(0, 3600, Nu)
        lead = (rng.uniform(*p.registration_lead_hours, Nu) * 3600).astype(np.int64)
        reg_sec = np.where(is_poster, np.maximum(0, first_sec - np.maximum(lead, 1)),
                           start_h * 3600 + rng.integers(0, 3600, Nu))
        reg_sec = np.minimum(reg_sec, np.where(is_poster, first_sec - 1, reg_sec))
        act_start = first_h + 1
        act_end = np.minimum(H, first_h + np.maximum(2, np.round(life_days * 24).astype(np.int64)))
        act_end = np.maximum(act_end, act_start)
        vip_since = np.where(vip, reg_sec + (rng.uniform(*p.vip_after_days, Nu) * 86400).astype(np.int64), -1)
        vip_since = np.where(vip, np.minimum(vip_since, H * 3600 - 3600), -1)

        # ---------------------------------------------------------- style
        n_fill = min(len(v) for v in T.FILLERS.values())
        filler = np.where(rng.random(Nu) < p.filler_share, rng.integers(0, n_fill, Nu), -1)
        filler_rate = rng.uniform(0.1, 0.5, Nu)
        filler_pos = rng.integers(0, 2, Nu)
        uc = rng.random(Nu)
        casing = np.where(uc < p.lowercase_share, 1, np.where(uc < p.lowercase_share + p.no_final_period_share, 2, 0))
        ellipsis = rng.random(Nu) < p.ellipsis_share
        exclam = rng.random(Nu) < p.double_punctuation_share
        emo = np.where(rng.random(Nu) < p.emoticon_share, rng.integers(0, len(T.EMOTICONS), Nu), -1)
        emo_rate = rng.uniform(0.1, 0.6, Nu)
        signoff = np.where(rng.random(Nu) < p.signoff_share, rng.integers(0, len(T.SIGNOFFS), Nu), -1)
        signoff_rate = rng.uniform(0.3, 0.9, Nu)
        subst = np.zeros(Nu, dtype=np.int64)
        for i in range(T.N_SUBST):
            subst |= (rng.random(Nu) < p.substitution_rate).astype(np.int64) << i
        if len(pairs):
            a_, b_ = pairs[:, 0], pairs[:, 1]
            filler[a_] = np.where(filler[a_] < 0, rng.integers(0, n_fill, len(a_)), filler[a_])
            emo[a_] = np.where(emo[a_] < 0, rng.integers(0, len(T.EMOTICONS), len(a_)), emo[a_])
            for arr in (filler, filler_rate, filler_pos, casing, ellipsis, exclam, emo, emo_rate, signoff,
                        signoff_rate, subst):
                arr[b_] = arr[a_]

        # ---------------------------------------------------------- order users by registration
        order = np.lexsort((np.arange(Nu), reg_sec))
        inv = np.empty(Nu, dtype=np.int64)
        inv[order] = np.arange(Nu)

        def ro(a: np.ndarray) -> np.ndarray:
            return a[order]

        self.Nu, self.Np = Nu, Np
        self.u_lang, self.u_lang2 = ro(lang), ro(lang2)
        self.u_zone, self.u_chrono, self.u_cell = ro(zone), ro(chrono), ro(cell)
        self.u_weight, self.u_poster = ro(weight), ro(is_poster)
        self.u_role, self.u_staff, self.u_hub, self.u_bridge = ro(role), ro(staff), ro(hub), ro(bridge)
        self.u_vip, self.u_vip_since = ro(vip), ro(vip_since)
        am = ro(alias_of)
        self.u_alias = np.where(am >= 0, inv[np.maximum(am, 0)], -1)
        self.u_first_h, self.u_first_sec, self.u_reg = ro(first_h), ro(first_sec), ro(reg_sec)
        self.u_act_start, self.u_act_end = ro(act_start), ro(act_end)
        self.u_style = {k: ro(v) for k, v in dict(filler=filler, filler_rate=filler_rate, filler_pos=filler_pos,
                                                  casing=casing, ellipsis=ellipsis, exclam=exclam, emo=emo,
                                                  emo_rate=emo_rate, signoff=signoff, signoff_rate=signoff_rate,
                                                  subst=subst).items()}
        pa = np.sort(inv[pairs], axis=1) if len(pairs) else np.zeros((0, 2), dtype=np.int64)
        self.alias_pairs = pa[np.argsort(pa[:, 0])] if len(pa) else pa
        name_code = rng.permutation(Nu)
        self.u_name_code = name_code  # by final index
        self.u_name_sep = rng.integers(0, len(NAME_SEP), Nu)
        self.u_declares_tz = rng.random(Nu) < p.timezone_declared_share

    def name(self, u: int) -> str:
        c = int(self.u_name_code[u])
        a, c = c % len(NAME_ADJ), c // len(NAME_ADJ)
        n, c = c % len(NAME_NOUN), c // len(NAME_NOUN)
        return f"{NAME_ADJ[a]}{NAME_SEP[int(self.u_name_sep[u])]}{NAME_NOUN[n]}{c if c else ''}"

    # --------------------------------------------------------------------------- rhythm and schedule
    def _rhythm_tables(self) -> None:
        p = self.p
        wk = np.array(p.weekday_curve, dtype=float)
        we = np.array(p.weekend_curve, dtype=float)
        peak = max(wk.max(), we.max())
        wk, we = wk / peak, we / peak
        C = len(self.zones) * self.n_chrono
        R = np.empty((self.H, C), dtype=np.float64)
        self.zone_offsets = []
        for zi, z in enumerate(self.zones):
            off = hourly_offsets(z, self.t0, self.H)
            self.zone_offsets.append(off)
            for ci, s in enumerate(p.chronotype_shifts):
                R[:, zi * self.n_chrono + ci] = local_rate(self.t0, self.H, off, s, wk, we)
        self.R = R
        self.C = C
        h = np.arange(self.H, dtype=float)
        self.T_h = int(round(p.takedown_fraction * self.H))
        self.T_sec = self.T_h * 3600
        after = p.takedown_recovery_level - (p.takedown_recovery_level - (1 - p.takedown_drop)) * np.exp(
            -(h - self.T_h) / (p.takedown_recovery_days * 24.0))
        self.M = np.where(h < self.T_h, 1.0, after)

    def _schedule(self) -> None:
        H, C = self.H, self.C
        rng = self.rng(2)
        po = np.nonzero(self.u_poster)[0]
        W = np.zeros((H + 1, C))
        N = np.zeros((H + 1, C), dtype=np.int64)
        s, e, c, w = self.u_act_start[po], self.u_act_end[po], self.u_cell[po], self.u_weight[po]
        ok = e > s
        s, e, c, w = s[ok], e[ok], c[ok], w[ok]
        np.add.at(W, (s, c), w)
        np.add.at(W, (e, c), -w)
        np.add.at(N, (s, c), 1)
        np.add.at(N, (e, c), -1)
        W = np.cumsum(W, axis=0)[:H]
        N = np.cumsum(N, axis=0)[:H]
        W[N <= 0] = 0.0
        W = np.maximum(W, 0.0)
        lam0 = W * self.R
        lam = lam0 * self.M[:, None]
        n_rest = self.n_posts - len(po)
        tot = lam.sum()
        pv = (lam / tot).ravel()
        self.cnt = rng.multinomial(n_rest, pv).reshape(H, C)
        reserved_h = np.bincount(self.u_first_h[po], minlength=H)[:H]
        self.per_hour = self.cnt.sum(axis=1) + reserved_h
        self.lam_scale = n_rest / tot
        self.expected_hour = lam.sum(axis=1) * self.lam_scale
        self.expected_hour_noevent = lam0.sum(axis=1) * self.lam_scale
        # reserved first posts sorted by hour
        fo = po[np.lexsort((po, self.u_first_h[po]))]
        self.first_order = fo
        self.first_hours_sorted = self.u_first_h[fo]
        # cell membership (CSR) of posters with a non-empty window
        pw = po[self.u_act_end[po] > self.u_act_start[po]]
        pw = pw[np.lexsort((pw, self.u_cell[pw]))]
        self.cell_members = pw
        self.cell_ptr = np.searchsorted(self.u_cell[pw], np.arange(C + 1))
        # chunk edges at hour boundaries
        cum = np.cumsum(self.per_hour)
        cp = self.p.chunk_posts
        targets = np.arange(cp, self.n_posts, cp)
        cuts = np.searchsorted(cum, targets, side="left") + 1
        self.edges = np.unique(np.r_[0, cuts, H])

    def _authors(self, rng: np.random.Generator, hours: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Draw an author for each (hour, cell) post among the members active then, proportional to weight."""
        out = np.full(len(hours), -1, dtype=np.int64)
        if len(hours) == 0:
            return out
        win = 24 * 14
        wid = (hours - hours.min()) // win
        key = wid * self.C + cells
        order = np.argsort(key, kind="stable")
        ks = key[order]
        bounds = np.r_[0, np.nonzero(ks[1:] != ks[:-1])[0] + 1, len(ks)]
        ast, aen, wgt = self.u_act_start, self.u_act_end, self.u_weight
        for gi in range(len(bounds) - 1):
            sel = order[bounds[gi]:bounds[gi + 1]]
            c = int(cells[sel[0]])
            hs = hours[sel]
            lo, hi = int(hs.min()), int(hs.max()) + 1
            mem = self.cell_members[self.cell_ptr[c]:self.cell_ptr[c + 1]]
            cand = mem[(ast[mem] < hi) & (aen[mem] > lo)]
            cw = np.cumsum(wgt[cand])
            todo = np.arange(len(sel))
            for _ in range(20_000):
                if len(todo) == 0:
                    break
                pick = cand[np.minimum(np.searchsorted(cw, rng.random(len(todo)) * cw[-1], side="right"),
                                       len(cand) - 1)]
                h = hs[todo]
                ok = (ast[pick] <= h) & (h < aen[pick])
                out[sel[todo[ok]]] = pick[ok]
                todo = todo[~ok]
            for t in todo:  # practically never: exact draw
                h = hs[t]
                act = cand[(ast[cand] <= h) & (h < aen[cand])]
                ww = wgt[act]
                k = np.searchsorted(np.cumsum(ww), rng.random() * ww.sum(), side="right")
                out[sel[t]] = act[min(int(k), len(act) - 1)]
        return out

    # --------------------------------------------------------------------------- labels
    def _label_tables(self) -> None:
        p = self.p
        L = len(T.LABELS) + 1
        base = np.zeros(L)
        for k, v in p.label_rates.items():
            base[T.LABEL_CODE[k]] = v
        base[0] = 1.0 - base[1:].sum()
        self.label_base = base
        dm = np.array([p.domain_mix[d] for d in T.DOMAINS], dtype=float)
        self.domain_mix = dm / dm.sum()
        kind_mult = np.ones((len(KIND_NAMES), L))
        role_mult = np.ones((len(ROLE_NAMES), L))
        op_mult = np.ones((2, L))  # row 1: opening post
        c = T.LABEL_CODE
        neut = [c[x] for x in T.LABELS if x.startswith("neutralisation.")]
        for kind, m in p.label_board_multipliers.items():
            for lab, v in m.items():
                kind_mult[KIND_NAMES.index(kind), c[lab]] = v
        for role, m in p.label_role_multipliers.items():
            for lab, v in m.items():
                role_mult[ROLE_NAMES.index(role), c[lab]] = v
        for lab, v in p.label_opening_post_multipliers.items():
            op_mult[1, c[lab]] = v
        self.kind_mult, self.role_mult, self.op_mult = kind_mult, role_mult, op_mult
        self.neut_codes = np.array(neut)

    # --------------------------------------------------------------------------- threads
    def _thread_state(self) -> None:
        B, P, K = self.B, self.p.thread_pool_size, self.p.reply_window
        self.pool_tid = np.full((B, P), -1, dtype=np.int64)
        self.pool_attr = np.zeros((B, P))
        self.pool_cseq = np.zeros((B, P), dtype=np.int64)
        self.pool_npost = np.zeros((B, P), dtype=np.int64)
        self.pool_op = np.full((B, P), -1, dtype=np.int64)
        self.pool_op_author = np.full((B, P), -1, dtype=np.int64)
        self.pool_op_label = np.zeros((B, P), dtype=np.int64)
        self.ring_post = np.full((B * P, K), -1, dtype=np.int64)
        self.ring_author = np.full((B * P, K), -1, dtype=np.int64)
        self.ring_label = np.zeros((B * P, K), dtype=np.int64)
        self.board_counter = np.zeros(B, dtype=np.int64)
        self.n_threads = 0
        p = self.p
        self.cand_logw = np.r_[np.arange(K) * math.log(p.reply_recency_decay), math.log(p.reply_to_op_weight)]

    def _threads_for(self, rng: np.random.Generator, idx: np.ndarray, c: dict[str, np.ndarray]) -> None:
        """Assign thread, parent and position to the posts ``idx`` (one time-ordered sub-batch)."""
        p = self.p
        P, K = p.thread_pool_size, p.reply_window
        board, author, label, gidx = c["board"], c["author"], c["label"], c["gidx"]
        new = c["new"]
        rep = idx[~new[idx]]
        if len(rep):
            bb = board[rep]
            valid = self.pool_tid[bb] >= 0
            has = valid.any(axis=1)
            new[rep[~has]] = True
            rep, bb, valid = rep[has], bb[has], valid[has]
        if len(rep):
            age = self.board_counter[bb][:, None] - self.pool_cseq[bb]
            logw = np.where(valid, self.pool_attr[bb] - age / p.thread_decay_posts, -np.inf)
            # members seldom answer a thread whose latest post is their own
            last_au = self.ring_author[bb[:, None] * P + np.arange(P)[None, :], K - 1]
            logw = logw + math.log(p.self_reply_penalty) * (last_au == author[rep][:, None])
            slot = np.argmax(logw + _gumbel(rng, logw.shape), axis=1)
            key = bb * P + slot
            o = np.argsort(key, kind="stable")
            rs, ks = rep[o], key[o]
            n = len(rs)
            start = np.r_[True, ks[1:] != ks[:-1]]
            q = np.arange(n)
            gstart = np.maximum.accumulate(np.where(start, q, 0))
            j = q - gstart
            d = np.arange(1, K + 1)
            D = j[:, None] - d[None, :]  # >= 0: in this sub-batch at sorted position q - d
            inb = D >= 0
            src = np.where(inb, q[:, None] - d[None, :], 0)
            ridx = np.where(inb, 0, K + D)  # ring position when not in batch
            cp = np.where(inb, gidx[rs[src]], self.ring_post[ks[:, None], ridx])
            ca = np.where(inb, author[rs[src]], self.ring_author[ks[:, None], ridx])
            cl = np.where(inb, label[rs[src]], self.ring_label[ks[:, None], ridx])
            b_, s_ = ks // P, ks % P
            cp = np.c_[cp, self.pool_op[b_, s_]]
            ca = np.c_[ca, self.pool_op_author[b_, s_]]
            cl = np.c_[cl, self.pool_op_label[b_, s_]]
            me = author[rs]
            sc = (self.cand_logw[None, :] + math.log(p.hub_parent_bonus) * self.u_hub[np.maximum(ca, 0)]
                  + math.log(p.self_reply_penalty) * (ca == me[:, None]))
            sc = np.where(cp >= 0, sc, -np.inf) + _gumbel(rng, sc.shape)
            ch = np.argmax(sc, axis=1)
            r_ = np.arange(n)
            c["parent"][rs] = cp[r_, ch]
            c["parent_author"][rs] = ca[r_, ch]
            c["parent_label"][rs] = cl[r_, ch]
            c["thread"][rs] = self.pool_tid[b_, s_]
            c["op_author"][rs] = self.pool_op_author[b_, s_]
            c["position"][rs] = self.pool_npost[b_, s_] + j
            # ring update: last K of (old ring + this batch's posts of the thread)
            gs = np.nonzero(start)[0]
            ge = np.r_[gs[1:], n]
            ng = ge - gs
            uk = ks[gs]
            qq = ng[:, None] + np.arange(K)[None, :]  # index into [old ring (K) + batch (ng)]
            from_old = qq < K
            bsrc = np.where(from_old, 0, gs[:, None] + qq - K)
            oldp = np.where(from_old, qq, 0)
            self.ring_post[uk] = np.where(from_old, self.ring_post[uk[:, None], oldp], gidx[rs[bsrc]])
            self.ring_author[uk] = np.where(from_old, self.ring_author[uk[:, None], oldp], author[rs[bsrc]])
            self.ring_label[uk] = np.where(from_old, self.ring_label[uk[:, None], oldp], label[rs[bsrc]])
            self.pool_npost[uk // P, uk % P] += ng
        nw = idx[new[idx]]
        if len(nw):
            bn = board[nw]
            k = _cumcount(bn)
            valid = self.pool_tid[bn] >= 0
            age = self.board_counter[bn][:, None] - self.pool_cseq[bn]
            lw = np.where(valid, self.pool_attr[bn] - age / p.thread_decay_posts, -np.inf)
            slot = np.argsort(lw, axis=1, kind="stable")[np.arange(len(nw)), k % P]
            tids = self.n_threads + np.arange(len(nw))
            self.n_threads += len(nw)
            au = author[nw]
            self.pool_tid[bn, slot] = tids
            self.pool_attr[bn, slot] = (rng.normal(0.0, p.thread_attr_sigma, len(nw))
                                        + math.log(p.hub_thread_bonus) * self.u_hub[au])
            self.pool_cseq[bn, slot] = self.board_counter[bn]
            self.pool_npost[bn, slot] = 1
            self.pool_op[bn, slot] = gidx[nw]
            self.pool_op_author[bn, slot] = au
            self.pool_op_label[bn, slot] = label[nw]
            kk = bn * P + slot
            self.ring_post[kk] = -1
            self.ring_author[kk] = -1
            self.ring_label[kk] = 0
            self.ring_post[kk, K - 1] = gidx[nw]
            self.ring_author[kk, K - 1] = au
            self.ring_label[kk, K - 1] = label[nw]
            c["thread"][nw] = tids
            c["position"][nw] = 0
            c["parent"][nw] = -1
            c["parent_author"][nw] = -1
            c["op_author"][nw] = au
        self.board_counter += np.bincount(board[idx], minlength=self.B)

    # --------------------------------------------------------------------------- one chunk
    def _chunk(self, ci: int, h_lo: int, h_hi: int, w: _Writer) -> int:
        p, rng = self.p, self.rng(3, ci)
        sub = self.cnt[h_lo:h_hi]
        hh, cc = np.nonzero(sub)
        k = sub[hh, cc]
        hours = np.repeat(hh + h_lo, k)
        cells = np.repeat(cc, k)
        auth = self._authors(rng, hours, cells)
        a0, a1 = np.searchsorted(self.first_hours_sorted, [h_lo, h_hi], side="left")
        fu = self.first_order[a0:a1]
        sec = np.r_[hours * 3600 + rng.integers(0, 3600, len(hours)), self.u_first_sec[fu]]
        author = np.r_[auth, fu]
        o = np.lexsort((author, sec))
        sec, author = sec[o], author[o]
        n = len(sec)
        if n == 0:
            return 0
        ar = np.arange(n)
        x = np.maximum.accumulate(np.maximum(sec - ar, self.last_sec + 1))
        sec = x + ar
        self.last_sec = int(sec[-1])
        gidx = self.n_written + ar
        prior = self.post_count[author] + _cumcount(author)
        np.add.at(self.post_count, author, 1)
        np.maximum.at(self.last_post_sec, author, sec)
        np.minimum.at(self.first_post_sec, author, sec)

        # ---------------------------------------------------------- language and board
        plang = self.u_lang[author].copy()
        u = rng.random((n, 8))
        l2 = self.u_lang2[author]
        is_br = self.u_bridge[author]
        use2 = is_br & (u[:, 0] < p.bridge_second_share) & (l2 >= 0)
        plang[use2] = l2[use2]
        if self.n_lang > 1:
            cross = ~is_br & (u[:, 1] < p.cross_language_rate)
            other = np.where(plang == 0, 1 + (u[:, 2] * (self.n_lang - 1)).astype(np.int64), 0)
            plang = np.where(cross, other, plang)
        wb = np.where((sec >= self.T_sec)[:, None], self.board_w_after[plang], self.board_w_before[plang])
        board = _choice_rows(rng, wb)
        staff = self.u_staff[author] > 0
        is_main = plang == 0
        elig_a = prior >= p.gate_posts
        rank_min = p.rank_min_posts[p.gate_rank_position]
        vs = self.u_vip_since[author]
        elig_b = (prior >= rank_min) | ((vs >= 0) & (vs <= sec)) | staff
        board = np.where(is_main & elig_a & (u[:, 3] < p.gated_post_share), self.b_gate_posts, board)
        board = np.where(is_main & elig_b & (u[:, 4] < p.gated_post_share), self.b_gate_rank, board)
        ann = staff & (u[:, 5] < p.announce_share)
        board = np.where(ann, self.b_announce, board)
        plang = self.board_lang[board]
        role = self.u_role[author]
        hubs = self.u_hub[author]
        ntr = np.where(role == ROLE_PRODUCER, p.producer_new_thread_rate,
                       np.where(role == ROLE_REQUESTER, p.requester_new_thread_rate, p.new_thread_rate))
        ntr = np.where(hubs, p.hub_new_thread_rate, ntr)
        ntr = np.where(ann, p.announce_new_thread_rate, ntr)
        new = u[:, 6] < ntr
        # ---------------------------------------------------------- labels (opening-post intent)
        kind = self.board_kind[board]
        lw = self.label_base[None, :] * self.kind_mult[kind] * self.role_mult[role] * self.op_mult[new.astype(np.int64)]
        label = _choice_rows(rng, lw)
        # ---------------------------------------------------------- threads
        c = {"board": board, "author": author, "label": label, "gidx": gidx, "new": new,
             "thread": np.full(n, -1, dtype=np.int64), "parent": np.full(n, -1, dtype=np.int64),
             "parent_author": np.full(n, -1, dtype=np.int64), "parent_label": np.zeros(n, dtype=np.int64),
             "op_author": np.full(n, -1, dtype=np.int64), "position": np.zeros(n, dtype=np.int64)}
        sb = self.sub_batch
        for s0 in range(0, n, sb):
            self._threads_for(rng, ar[s0:s0 + sb], c)
        thread, parent, pauth = c["thread"], c["parent"], c["parent_author"]
        is_op = parent < 0
        # answers to help-seeking posts
        hs = (~is_op) & (c["parent_label"] == T.LABEL_CODE["help_seeking"])
        v = u[:, 7]
        label = np.where(hs & (v < p.help_response_rate), T.LABEL_CODE["help_response"], label)
        label = np.where(hs & (v >= p.help_response_rate) & (v < p.help_response_rate + p.help_dismissal_rate),
                         T.LABEL_CODE["normalisation"], label)
        label2 = np.where(np.isin(label, self.neut_codes) & (rng.random(n) < p.neutralisation_normalisation_rate),
                          T.LABEL_CODE["normalisation"], 0)
        domain = np.array([KIND_DOMAIN.get(int(k_), -1) for k_ in range(len(KIND_NAMES))])[kind]
        rd = _choice_rows(rng, np.broadcast_to(self.domain_mix, (n, 3)))
        domain = np.where(domain < 0, rd, domain)
        domain = np.where(label == T.LABEL_CODE["technical_help"], 0, domain)  # tech help is about software

        # ---------------------------------------------------------- explicit interactions
        quote = (~is_op) & (rng.random(n) < p.quote_rate) & (pauth >= 0) & (pauth != author)
        opa = c["op_author"]
        mention = (~is_op) & (rng.random(n) < p.mention_rate) & (opa >= 0) & (opa != author) & (opa != pauth)
        # thanks: to producers, to offers and technical help; givers write one of the next posts in that language
        rate = p.thanks_rate * np.where(role == ROLE_PRODUCER, p.thanks_producer_boost, 1.0)
        rate = rate * np.where(np.isin(label, [T.LABEL_CODE["offer"], T.LABEL_CODE["technical_help"]]),
                               p.thanks_help_boost, 1.0)
        rate = rate * np.where(hubs, p.thanks_hub_boost, 1.0)
        nth = rng.poisson(rate)
        t_post = np.repeat(ar, nth)
        lo_ = np.lexsort((ar, plang))
        rank_in = np.empty(n, dtype=np.int64)
        rank_in[lo_] = ar
        lang_end = np.searchsorted(plang[lo_], np.arange(self.n_lang), side="right")
        tr = rank_in[t_post] + rng.integers(1, p.thanks_window + 1, len(t_post))
        okt = tr < lang_end[plang[t_post]]
        t_post, tr = t_post[okt], tr[okt]
        giver_pos = lo_[tr]
        giver = author[giver_pos]
        okt = giver != author[t_post]
        t_post, giver, giver_pos = t_post[okt], giver[okt], giver_pos[okt]
        key = t_post.astype(np.int64) * (self.Nu + 1) + giver
        _, first = np.unique(key, return_index=True)
        first.sort()
        t_post, giver, giver_pos = t_post[first], giver[first], giver_pos[first]
        # attachments
        prod_post = (role == ROLE_PRODUCER) & ((label == T.LABEL_CODE["offer"]) | (kind == K_RELEASES))
        att = np.where(prod_post, rng.random(n) < p.attachment_rate, rng.random(n) < p.stray_attachment_rate)
        att_n = np.where(att, 1 + (rng.random(n) < p.second_attachment_rate), 0)

        # ---------------------------------------------------------- serialise
        self._emit(w, rng, n, sec, author, board, plang, label, label2, domain, thread, parent, pauth, c["position"],
                   is_op, quote, mention, opa, t_post, giver, giver_pos, att_n, gidx)
        self.n_written += n
        return n

    def _emit(self, w: _Writer, rng: np.random.Generator, n: int, sec: np.ndarray, author: np.ndarray,
              board: np.ndarray, plang: np.ndarray, label: np.ndarray, label2: np.ndarray, domain: np.ndarray,
              thread: np.ndarray, parent: np.ndarray, pauth: np.ndarray, position: np.ndarray, is_op: np.ndarray,
              quote: np.ndarray, mention: np.ndarray, opa: np.ndarray, t_post: np.ndarray, giver: np.ndarray,
              giver_pos: np.ndarray, att_n: np.ndarray, gidx: np.ndarray) -> None:
        fid = self.fid
        ts = _iso(sec, self.t0)
        st = self.u_style
        R = rng.integers(0, 1 << 30, size=(n, 9)).tolist()
        uf = rng.random((n, 3))
        use_f = (uf[:, 0] < st["filler_rate"][author]).tolist()
        use_e = (uf[:, 1] < st["emo_rate"][author]).tolist()
        use_s = (uf[:, 2] < st["signoff_rate"][author]).tolist()
        sty = [st[k][author].tolist() for k in ("filler", "filler_pos", "casing", "ellipsis", "exclam", "emo",
                                                 "signoff", "subst")]
        langs = self.langs
        lab_names = ("ordinary",) + T.LABELS
        gates = (GATE_POSTS_NAME, GATE_RANK_NAME)
        ranks = self.p.rank_names[1:]
        bids = self.board_ids
        L_author, L_board, L_lang = author.tolist(), board.tolist(), plang.tolist()
        L_label, L_label2, L_dom = label.tolist(), label2.tolist(), domain.tolist()
        L_thread, L_parent, L_pos, L_op = thread.tolist(), parent.tolist(), position.tolist(), is_op.tolist()
        L_g = gidx.tolist()
        L_mention, L_opa = mention.tolist(), opa.tolist()
        posts: list[dict[str, Any]] = []
        threads: list[dict[str, Any]] = []
        labels_out: list[dict[str, Any]] = []
        mentions: list[dict[str, Any]] = []
        lab_counts = self.label_counts
        for i in range(n):
            lang = langs[L_lang[i]]
            lab = L_label[i]
            lname = lab_names[lab]
            r = R[i]
            dom = T.DOMAINS[L_dom[i]]
            sl = T.SLOTS[lang][dom]
            acts, things, thems, places = sl["act"], sl["thing"], sl["them"], sl["place"]
            tpls = T.ORDINARY[lang][dom] if lab == 0 else T.TEMPLATES[lang][lname]
            fill = dict(act=acts[r[1] % len(acts)], thing=things[r[2] % len(things)], them=thems[r[3] % len(thems)],
                        place=places[r[4] % len(places)], num=2 + r[5] % 11, day=T.DAYS[lang][r[5] % 7],
                        gate=gates[r[6] % 2], rank=ranks[r[6] % len(ranks)])
            for k_ in _CAP_SLOTS:
                fill[k_.capitalize()] = T.capitalise(fill[k_])
            body = T.capitalise(tpls[r[0] % len(tpls)].format(**fill))
            body = T.apply_style(body, lang, sty[0][i], sty[1][i], use_f[i], sty[2][i], sty[3][i], sty[4][i],
                                 sty[5][i], use_e[i], sty[6][i], use_s[i], sty[7][i])
            a = L_author[i]
            pid = f"p{L_g[i] + 1}"
            tid = f"t{L_thread[i] + 1}"
            if L_mention[i]:
                body = f"@{self.name(L_opa[i])} {body}"
                mentions.append({"forum_id": fid, "id": f"mention:{pid}", "kind": "mention",
                                 "source_user_id": f"u{a + 1}", "target_user_id": f"u{L_opa[i] + 1}",
                                 "post_id": pid, "created_at": ts[i]})
            d: dict[str, Any] = {"forum_id": fid, "id": pid, "thread_id": tid, "board_id": bids[L_board[i]],
                                 "author_id": f"u{a + 1}", "created_at": ts[i]}
            if L_op[i]:
                ttpl = T.TITLES[lang].get(lname) or T.TITLES[lang]["ordinary"]
                title = T.capitalise(ttpl[r[7] % len(ttpl)].format(**fill))
                d["position"] = 0
                d["title"] = title
                threads.append({"forum_id": fid, "id": tid, "board_id": bids[L_board[i]], "title": title,
                                "author_id": f"u{a + 1}", "created_at": ts[i], "first_post_id": pid,
                                "is_sticky": L_board[i] == self.b_announce})
            else:
                d["parent_id"] = f"p{L_parent[i] + 1}"
                d["position"] = L_pos[i]
            d["text"] = body
            d["format"] = "plain"
            d["language"] = lang
            d["kind"] = "post"
            posts.append(d)
            if lab:
                labs = [lname]
                lab_counts[lab] += 1
                if L_label2[i]:
                    labs.append(lab_names[L_label2[i]])
                    lab_counts[L_label2[i]] += 1
                labels_out.append({"post_id": pid, "labels": labs})
        w.write("posts", posts)
        w.write("threads", threads)
        w.write("post_labels", labels_out)
        # interactions
        inter: list[dict[str, Any]] = []
        qi = np.nonzero(quote)[0]
        for i, pa, au, par, t in zip(qi.tolist(), pauth[qi].tolist(), author[qi].tolist(), parent[qi].tolist(),
                                     [ts[k] for k in qi.tolist()]):
            pid = f"p{L_g[i] + 1}"
            inter.append({"forum_id": fid, "id": f"quote:{pid}", "kind": "quote", "source_user_id": f"u{au + 1}",
                          "target_user_id": f"u{pa + 1}", "post_id": pid, "target_post_id": f"p{par + 1}",
                          "created_at": t})
        inter.extend(mentions)
        for tp, gv, gp in zip(t_post.tolist(), giver.tolist(), giver_pos.tolist()):
            pid = f"p{L_g[tp] + 1}"
            inter.append({"forum_id": fid, "id": f"thanks:{pid}:u{gv + 1}", "kind": "thanks",
                          "source_user_id": f"u{gv + 1}", "target_user_id": f"u{L_author[tp] + 1}",
                          "target_post_id": pid, "created_at": ts[gp], "value": 1.0})
        w.write("interactions", inter)
        self.n_thanks_to_producers += int((self.u_role[author[t_post]] == ROLE_PRODUCER).sum())
        self.n_thanks += len(t_post)
        # attachments (records only: never bytes)
        ai = np.repeat(np.arange(n), att_n)
        if len(ai):
            sizes = np.exp(rng.normal(0.0, 0.8, len(ai)))
            pick = rng.integers(0, 1 << 30, len(ai)).tolist()
            nums = rng.integers(1, 40, len(ai)).tolist()
            hashes = rng.integers(0, 256, size=(len(ai), 32), dtype=np.uint8)
            rows = []
            for j, (i, s, pk, nm) in enumerate(zip(ai.tolist(), sizes.tolist(), pick, nums)):
                dom = L_dom[i]
                fn, typ, med = ATTACH_FILES[dom][pk % len(ATTACH_FILES[dom])]
                self.n_attach += 1
                rows.append({"forum_id": fid, "id": f"a{self.n_attach}", "post_id": f"p{L_g[i] + 1}",
                             "user_id": f"u{L_author[i] + 1}", "file_name": fn.format(n=nm),
                             "size_bytes": max(16, int(med * s)), "declared_type": typ,
                             "sha256": hashes[j].tobytes().hex(), "created_at": ts[i]})
                if self.u_role[L_author[i]] == ROLE_PRODUCER:
                    self.n_attach_producers += 1
            w.write("attachments", rows)
        self.posts_per_lang += np.bincount(plang, minlength=self.n_lang)
        self.posts_per_board += np.bincount(board, minlength=self.B)

    # --------------------------------------------------------------------------- run
    def run(self) -> dict[str, Any]:
        (self.out / "truth").mkdir(parents=True, exist_ok=True)
        self._boards()
        self._members()
        self._schedule()
        self._label_tables()
        self._thread_state()
        self.sub_batch = int(np.clip(self.n_posts // 2000, 16, 256))
        self.post_count = np.zeros(self.Nu, dtype=np.int64)
        self.last_post_sec = np.full(self.Nu, -1, dtype=np.int64)
        self.first_post_sec = np.full(self.Nu, np.iinfo(np.int64).max, dtype=np.int64)
        self.label_counts = [0] * (len(T.LABELS) + 1)
        self.n_written = 0
        self.last_sec = -1
        self.n_attach = self.n_attach_producers = self.n_thanks = self.n_thanks_to_producers = 0
        self.posts_per_lang = np.zeros(self.n_lang, dtype=np.int64)
        self.posts_per_board = np.zeros(self.B, dtype=np.int64)
        with _Writer(self.out) as w:
            self._write_static(w)
            for ci in range(len(self.edges) - 1):
                k = self._chunk(ci, int(self.edges[ci]), int(self.edges[ci + 1]), w)
                if self.progress is not None and k:
                    self.progress(k)
            self._write_users(w)
            truth = self._truth(w)
        (self.out / TRUTH_FILE).write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        counts = {t: w.counts[t] for t in TABLE_FILES}
        return {
            "out_dir": str(self.out),
            "forum_id": self.fid,
            "counts": counts,
            "files": {t: str(w.paths[t]) for t in TABLE_FILES},
            "truth": str(self.out / TRUTH_FILE),
            "post_labels": str(w.paths["post_labels"]),
            "member_truth": str(w.paths["member_truth"]),
        }

    # --------------------------------------------------------------------------- static tables
    def _write_static(self, w: _Writer) -> None:
        p, fid = self.p, self.fid
        start_iso = _iso(np.array([0]), self.t0)[0]
        w.write("forums", [{"id": fid, "name": p.forum_name, "platform": "synthetic",
                            "description": "Synthetic benign forum (game modding and piracy, fare dodging, "
                                           "amateur sport doping) with planted ground truth; see truth.json.",
                            "language": self.main, "created_at": start_iso}])
        rows = []
        close_iso = _iso(np.array([self.T_sec]), self.t0)[0]
        for b, r in enumerate(self.board_rows):
            d = {"forum_id": fid, **r, "created_at": start_iso}
            k = int(self.board_kind[b])
            d["description"] = KIND_NAMES[k]
            if k == K_GATE_POSTS:
                d["min_posts"] = p.gate_posts
                d["access_rule"] = f"posts>={p.gate_posts}"
            if k == K_ANNOUNCE:
                d["required_group_ids"] = "g-admins|g-mods"
                d["access_rule"] = "group:g-admins|g-mods"
            if b == self.b_releases:
                d["closed_at"] = close_iso
            rows.append(d)
        w.write("boards", rows)
        ranks = [{"forum_id": fid, "id": f"r{i}", "name": nm, "position": i, "min_posts": mp, "is_special": False,
                  "description": f"reached at {mp} posts"}
                 for i, (nm, mp) in enumerate(zip(p.rank_names, p.rank_min_posts))]
        ranks += [{"forum_id": fid, "id": "r-admin", "name": "Administrator", "is_special": True,
                   "description": "assigned by hand to administrators"},
                  {"forum_id": fid, "id": "r-mod", "name": "Moderator", "is_special": True,
                   "description": "assigned by hand to moderators"}]
        w.write("ranks", ranks)
        w.write("groups", [
            {"forum_id": fid, "id": "g-admins", "name": "Administrators", "kind": "admin"},
            {"forum_id": fid, "id": "g-mods", "name": "Moderators", "kind": "moderator"},
            {"forum_id": fid, "id": "g-vip", "name": "VIP", "kind": "vip",
             "description": "trusted members, granted by the staff"},
            {"forum_id": fid, "id": "g-members", "name": "Registered members", "kind": "member"},
        ])
        admin = int(np.nonzero(self.u_staff == STAFF_ADMIN)[0][0])
        ev = [{"forum_id": fid, "id": "e1", "kind": "takedown", "created_at": close_iso, "user_id": f"u{admin + 1}",
               "board_id": self.board_ids[self.b_releases], "detail": "board taken down after a takedown notice"},
              {"forum_id": fid, "id": "e2", "kind": "announcement",
               "created_at": _iso(np.array([self.T_sec + 7200]), self.t0)[0], "user_id": f"u{admin + 1}",
               "board_id": self.board_ids[self.b_announce],
               "detail": "staff announce that the releases board is closed"}]
        w.write("events", ev)

    def _rank_index(self, counts: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.array(self.p.rank_min_posts), counts, side="right") - 1

    def _write_users(self, w: _Writer) -> None:
        fid, Nu = self.fid, self.Nu
        rng = self.rng(4)
        snapshot = max(self.H * 3600, self.last_sec + 1) + 86400
        self.snapshot = snapshot
        delay = rng.integers(60, 3 * 86400, Nu)
        last = np.where(self.post_count > 0, self.last_post_sec, self.u_reg)
        lurk_extra = (np.exp(rng.normal(math.log(5 * 86400), 1.5, Nu))).astype(np.int64)
        seen = np.where(self.post_count > 0, last + delay, self.u_reg + 60 + lurk_extra)
        seen = np.minimum(seen, snapshot)
        rank = self._rank_index(self.post_count)
        blk = 50_000
        tzdecl = self.u_declares_tz
        for s in range(0, Nu, blk):
            e = min(Nu, s + blk)
            reg = _iso(self.u_reg[s:e], self.t0)
            sn = _iso(seen[s:e], self.t0)
            rows, mem, truth = [], [], []
            vs = _iso(np.maximum(self.u_vip_since[s:e], 0), self.t0)
            for k, u in enumerate(range(s, e)):
                stf = int(self.u_staff[u])
                rid = "r-admin" if stf == STAFF_ADMIN else "r-mod" if stf == STAFF_MOD else f"r{int(rank[u])}"
                d = {"forum_id": fid, "id": f"u{u + 1}", "name": self.name(u), "registered_at": reg[k],
                     "last_seen_at": sn[k], "post_count_reported": int(self.post_count[u]), "rank_id": rid}
                if tzdecl[u]:
                    d["timezone_declared"] = self.zones[int(self.u_zone[u])]
                d["language"] = self.langs[int(self.u_lang[u])]
                rows.append(d)
                uid = f"u{u + 1}"
                vip = bool(self.u_vip[u])
                mem.append({"forum_id": fid, "user_id": uid, "group_id": "g-members", "since": reg[k],
                            "is_primary": stf == STAFF_NONE and not vip})
                if stf == STAFF_ADMIN:
                    mem.append({"forum_id": fid, "user_id": uid, "group_id": "g-admins", "since": reg[k],
                                "is_primary": True})
                elif stf == STAFF_MOD:
                    mem.append({"forum_id": fid, "user_id": uid, "group_id": "g-mods", "since": reg[k],
                                "is_primary": True})
                if vip:
                    mem.append({"forum_id": fid, "user_id": uid, "group_id": "g-vip", "since": vs[k],
                                "is_primary": True})
                poster = bool(self.u_poster[u])
                l2 = int(self.u_lang2[u])
                al = int(self.u_alias[u])
                truth.append({
                    "user_id": uid, "posts": int(self.post_count[u]), "lurker": not poster,
                    "community": self.langs[int(self.u_lang[u])],
                    "languages": [self.langs[int(self.u_lang[u])]] + ([self.langs[l2]] if l2 >= 0 else []),
                    "zone": self.zones[int(self.u_zone[u])],
                    "chronotype_shift_hours": float(self.p.chronotype_shifts[int(self.u_chrono[u])]),
                    "role": "lurker" if not poster else ROLE_NAMES[int(self.u_role[u])],
                    "staff": ("admin", "moderator")[stf - 1] if stf else None,
                    "vip": vip, "hub": bool(self.u_hub[u]), "bridge": bool(self.u_bridge[u]),
                    "alias_of": f"u{al + 1}" if al >= 0 else None,
                    "activity_weight": round(float(self.u_weight[u]), 6),
                    "style": self._style_of(u) if poster else None,
                })
            w.write("users", rows)
            w.write("memberships", mem)
            w.write("member_truth", truth)

    def _style_of(self, u: int) -> dict[str, Any]:
        st = self.u_style
        lang = self.langs[int(self.u_lang[u])]
        f, e, s = int(st["filler"][u]), int(st["emo"][u]), int(st["signoff"][u])
        m = int(st["subst"][u])
        return {
            "filler": T.FILLERS[lang][f] if f >= 0 else None,
            "filler_rate": round(float(st["filler_rate"][u]), 3) if f >= 0 else 0.0,
            "filler_position": ("start", "end")[int(st["filler_pos"][u])],
            "casing": ("normal", "lowercase", "no_final_period")[int(st["casing"][u])],
            "ellipsis": bool(st["ellipsis"][u]), "double_punctuation": bool(st["exclam"][u]),
            "emoticon": T.EMOTICONS[e] if e >= 0 else None,
            "emoticon_rate": round(float(st["emo_rate"][u]), 3) if e >= 0 else 0.0,
            "signoff": T.SIGNOFFS[s] if s >= 0 else None,
            "signoff_rate": round(float(st["signoff_rate"][u]), 3) if s >= 0 else 0.0,
            "substitutions": [f"{a}->{b}" for i, (a, b) in enumerate(T.SUBSTITUTIONS[lang]) if m >> i & 1],
        }

    # --------------------------------------------------------------------------- truth
    def _truth(self, w: _Writer) -> dict[str, Any]:
        p = self.p
        uid = lambda u: f"u{int(u) + 1}"  # noqa: E731
        Nu = self.Nu
        n_lurk = int((self.post_count == 0).sum())
        counts = self.post_count
        posters_sorted = np.sort(counts[counts > 0])[::-1]
        tot = posters_sorted.sum()

        def top_share(f: float) -> float:
            k = max(1, int(math.ceil(f * len(posters_sorted))))
            return round(float(posters_sorted[:k].sum() / tot), 4)

        day = 24
        ph = self.per_hour.astype(float)
        Th = self.T_h

        def rate(a: int, b: int, arr: np.ndarray) -> float:
            a, b = max(0, a), min(self.H, b)
            return round(float(arr[a:b].sum() / max(1, (b - a) / 24)), 3) if b > a else 0.0

        lab_names = ("ordinary",) + T.LABELS
        n = self.n_posts
        label_counts = {lab_names[i]: self.label_counts[i] for i in range(1, len(lab_names))}
        ladder = [{"rank_id": f"r{i}", "name": nm, "position": i, "min_posts": mp}
                  for i, (nm, mp) in enumerate(zip(p.rank_names, p.rank_min_posts))]
        rank = self._rank_index(counts)
        nonstaff = self.u_staff == STAFF_NONE
        iso = lambda s: _iso(np.array([s]), self.t0)[0]  # noqa: E731
        zone_counts = {z: int(((self.u_zone == zi) & self.u_poster).sum()) for zi, z in enumerate(self.zones)}
        return {
            "format": "forumscope-synth-truth",
            "version": 1,
            "generator": {"name": "forumscope.synth", "version": GENERATOR_VERSION, "seed": self.seed,
                          "posts": self.n_posts, "params": asdict(p)},
            "forum_id": self.fid,
            "period": {"start": iso(0), "end": iso(self.H * 3600), "snapshot": iso(self.snapshot)},
            "counts": {t: w.counts[t] for t in TABLE_FILES},
            "files": {"tables": {t: f"{t}.ndjson" for t in TABLE_FILES}, "post_labels": POST_LABELS_FILE,
                      "member_truth": MEMBER_TRUTH_FILE},
            "members": {
                "registered": Nu, "posters": int(Nu - n_lurk), "lurkers": n_lurk,
                "lurker_share": round(n_lurk / Nu, 6),
                "lurker_definition": "registered member with no post at all in posts.ndjson",
                "post_count_definition": "number of rows in posts.ndjson with this author_id; "
                                         "users.post_count_reported equals it",
                "activity_concentration": {"top_1pct_share": top_share(0.01), "top_10pct_share": top_share(0.10),
                                           "top_20pct_share": top_share(0.20)},
                "registered_before_first_post": True, "last_seen_after_last_post": True,
            },
            "rank_ladder": {
                "rule": "users.rank_id of every non-staff member is the highest rule-based rank whose min_posts "
                        "<= the member's actual post count",
                "ranks": ladder,
                "special_ranks": [{"rank_id": "r-admin", "name": "Administrator", "holders": [
                    uid(u) for u in np.nonzero(self.u_staff == STAFF_ADMIN)[0]]},
                    {"rank_id": "r-mod", "name": "Moderator", "holders": [
                        uid(u) for u in np.nonzero(self.u_staff == STAFF_MOD)[0]]}],
                "members_per_rank": {f"r{i}": int(((rank == i) & nonstaff).sum()) for i in range(len(ladder))},
            },
            "groups": {
                "g-admins": {"kind": "admin", "members": [uid(u) for u in np.nonzero(self.u_staff == STAFF_ADMIN)[0]]},
                "g-mods": {"kind": "moderator", "members": [uid(u) for u in np.nonzero(self.u_staff == STAFF_MOD)[0]]},
                "g-vip": {"kind": "vip", "members": [uid(u) for u in np.nonzero(self.u_vip)[0]],
                          "since": "memberships.since (some weeks after registration)"},
                "g-members": {"kind": "member", "count": Nu},
            },
            "gated_boards": [
                {"board_id": self.board_ids[self.b_gate_posts], "name": GATE_POSTS_NAME, "gate_type": "post_count",
                 "threshold": p.gate_posts, "declared": True,
                 "rule": f"a member posts here only when they have already written >= {p.gate_posts} posts "
                         "(posts strictly before this one, any board)",
                 "posts": int(self.posts_per_board[self.b_gate_posts])},
                {"board_id": self.board_ids[self.b_gate_rank], "name": GATE_RANK_NAME, "gate_type": "rank_or_group",
                 "threshold": p.gate_rank_position, "min_rank_id": f"r{p.gate_rank_position}",
                 "equivalent_min_posts": p.rank_min_posts[p.gate_rank_position],
                 "groups": ["g-vip", "g-admins", "g-mods"], "declared": False,
                 "rule": f"a member posts here only when their rank position is >= {p.gate_rank_position} "
                         f"(>= {p.rank_min_posts[p.gate_rank_position]} earlier posts) or they are in g-vip "
                         "(since memberships.since) or staff",
                 "posts": int(self.posts_per_board[self.b_gate_rank])},
                {"board_id": self.board_ids[self.b_announce], "name": self.board_rows[self.b_announce]["name"],
                 "gate_type": "group", "groups": ["g-admins", "g-mods"], "declared": True,
                 "rule": "staff only", "posts": int(self.posts_per_board[self.b_announce])},
            ],
            "key_actors": {
                "hubs": [uid(u) for u in np.nonzero(self.u_hub)[0]],
                "hub_definition": "very active members whose posts attract replies (parent weight x"
                                  f"{p.hub_parent_bonus}, thread attractiveness x{p.hub_thread_bonus}) and who "
                                  "mostly reply, across all boards of their language",
                "bridges": [{"user_id": uid(u), "communities": [self.langs[int(self.u_lang[u])],
                                                                self.langs[int(self.u_lang2[u])]]}
                            for u in np.nonzero(self.u_bridge)[0]],
                "bridge_definition": f"members writing about {p.bridge_second_share:.0%} of their posts in a second "
                                     "language community",
            },
            "communities": {
                "definition": "a member's sub-community is their primary language (member_truth.community); "
                              f"non-bridges post {p.cross_language_rate:.0%} of their posts elsewhere",
                "sizes_posters": {lang: int(((self.u_lang == li) & self.u_poster).sum())
                                  for li, lang in enumerate(self.langs)},
            },
            "rhythm": {
                "weekday_curve": list(p.weekday_curve), "weekend_curve": list(p.weekend_curve),
                "curve_definition": "relative activity per local clock hour [h, h+1); Saturday and Sunday use "
                                    "weekend_curve; a member with chronotype shift s is as active at local time t as "
                                    "the curve at t - s; converted to UTC with each zone's DST (zoneinfo)",
                "chronotype_shifts": list(p.chronotype_shifts),
                "zone_mix": p.zone_mix, "posters_per_zone": zone_counts,
                "per_member": MEMBER_TRUTH_FILE + " (zone, chronotype_shift_hours)",
            },
            "aliases": {
                "pairs": [[uid(a), uid(b)] for a, b in self.alias_pairs],
                "shared": ["zone", "chronotype", "languages", "role", "writing style (filler word, casing, "
                           "punctuation, emoticon, sign-off, spelling substitutions)"],
                "definition": "two accounts of one person; the second joins later while the first is still active",
            },
            "discourse": {
                "labels": T.LABEL_DEFINITIONS,
                "base_rates": p.label_rates,
                "counts": label_counts,
                "rates": {k: round(v / n, 6) for k, v in label_counts.items()},
                "labelled_posts_file": POST_LABELS_FILE,
                "unlabelled_means": "ordinary on-topic post",
                "domains": list(T.DOMAINS),
                "help_seeking_answers": "replies to help_seeking posts are help_response (supportive) with "
                                        f"probability {p.help_response_rate} or normalisation (dismissive) with "
                                        f"probability {p.help_dismissal_rate}",
            },
            "languages": {
                "boards": {lang: [self.board_ids[b] for b in range(self.B)
                                  if self.board_lang[b] == li and self.board_kind[b] != K_CATEGORY]
                           for li, lang in enumerate(self.langs)},
                "posts": {lang: int(self.posts_per_lang[li]) for li, lang in enumerate(self.langs)},
            },
            "event": {
                "kind": "takedown", "event_id": "e1", "board_id": self.board_ids[self.b_releases],
                "at": iso(self.T_sec),
                "effect": {"board": "no posts in the board from this time on (boards.closed_at)",
                           "forum_activity_multiplier": "1 before; after: recovery_level - (recovery_level - "
                                                        "(1 - drop)) * exp(-days_since / recovery_days)",
                           "drop": p.takedown_drop, "recovery_level": p.takedown_recovery_level,
                           "recovery_days": p.takedown_recovery_days},
                "posts_per_day": {"28_days_before": rate(Th - 28 * day, Th, ph),
                                  "first_14_days_after": rate(Th, Th + 14 * day, ph),
                                  "days_60_to_88_after": rate(Th + 60 * day, Th + 88 * day, ph)},
                "expected_without_event_posts_per_day": {
                    "first_14_days_after": rate(Th, Th + 14 * day, self.expected_hour_noevent),
                    "days_60_to_88_after": rate(Th + 60 * day, Th + 88 * day, self.expected_hour_noevent)},
            },
            "roles": {
                "definition": "primary role per poster (member_truth.role): producer (offers, attachment "
                              "records, most thanks), requester, social, staff, regular; lurker for non-posters",
                "counts": {r: int(((self.u_role == i) & self.u_poster).sum()) for i, r in enumerate(ROLE_NAMES)},
                "thanks_total": self.n_thanks, "thanks_to_producers": self.n_thanks_to_producers,
                "attachments_total": self.n_attach, "attachments_by_producers": self.n_attach_producers,
            },
        }


def generate(out_dir: Path | str, posts: int, seed: int = 0, params: SynthParams | None = None,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write a synthetic forum with planted ground truth into ``out_dir``.

    Writes ``<table>.ndjson`` for forums, boards, users, ranks, groups, memberships,
    threads, posts, interactions, attachments and events (forumscope canonical
    format), ``truth.json``, ``truth/post_labels.ndjson`` and
    ``truth/member_truth.ndjson``. The same ``seed`` and ``params`` give the same
    bytes. Memory stays bounded: posts are made and written in chunks.

    ``progress`` is called after each chunk with the number of posts just written
    (an increment). Returns a summary: ``counts`` per table, ``files``, ``truth``.

    >>> import tempfile
    >>> s = generate(tempfile.mkdtemp(), posts=500, seed=1)
    >>> s["counts"]["posts"]
    500
    """
    p = params if params is not None else SynthParams()
    if not isinstance(p, SynthParams):
        raise ConfigError("synth: params must be a SynthParams")
    p.validate()
    if isinstance(posts, bool) or not isinstance(posts, (int, np.integer)) or posts < MIN_POSTS:
        raise ConfigError(f"synth: posts={posts!r}: must be an integer of at least {MIN_POSTS}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"synth: seed={seed!r}: must be a non-negative integer")
    out = Path(out_dir)
    return _Gen(out, int(posts), int(seed), p, progress).run()
