"""The reference human activity curve for the rhythm step: where it comes from, how it is built, how it is loaded.

The rhythm step (:mod:`forumscope.analyze.rhythm`) explains each member's UTC activity as a reference
*local-time* weekly curve shifted by an unknown UTC offset. The shipped reference
(``data/rhythm/reference-se-meta.json``) was built by :func:`build_reference` from **public, benign
Stack Exchange data** with known time zones: the users of three Stack Exchange *meta* sites
(bicycles.meta, history.meta, conlang.meta; ``../shared/data/se-*``, CC BY-SA) whose free-text
``Location`` maps to exactly one IANA zone by the small gazetteer below. Their timestamped actions
(posts, comments, edits, account creation, last access) are converted to local time with the zone's
DST rules and pooled into a 168-bin local hour-of-week curve. The fourth site, ``se-cardano``, is kept
out of the fit and used for evaluation; synthetic forums never enter it. docs/analyses/rhythm.md has
the details and the numbers.

Example::

    ref = load_reference()                  # the shipped curve
    ref.curve.shape                         # (168,), local hour of week, Monday 00:00 = 0, sums to 1
    zone_for_location("Chicago, IL")        # 'America/Chicago'
    zone_for_location("Washington, USA")    # None (state or D.C.: ambiguous)
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from forumscope.errors import ConfigError

HOURS_OF_WEEK = 168
DEFAULT_REFERENCE = "se-meta"
_SHIPPED = {"se-meta": "reference-se-meta.json"}
FORMAT = "forumscope-rhythm-reference"


# --------------------------------------------------------------------------------------------------
# Gazetteer: place name -> IANA zone(s). A name that maps to several zones is ambiguous on its own
# and only resolves together with another part of the location ("Portland, OR"). Multi-zone
# countries (United States, Canada, Australia, Brazil, Russia, Mexico, Indonesia) are constraints,
# never a zone by themselves. Small regions of single-zone countries with another offset (Canary
# Islands, Azores, ...) are ignored: a handful of misplaced users barely moves a pooled curve.
# --------------------------------------------------------------------------------------------------

_NY, _CHI, _DEN, _PHX, _LA = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
                              "America/Los_Angeles")
_AK, _HI = "America/Anchorage", "Pacific/Honolulu"
US_ZONES = frozenset({_NY, _CHI, _DEN, _PHX, _LA, _AK, _HI})
_TOR, _VAN, _EDM, _WPG, _REG, _HAL, _STJ = ("America/Toronto", "America/Vancouver", "America/Edmonton",
                                            "America/Winnipeg", "America/Regina", "America/Halifax",
                                            "America/St_Johns")
CA_ZONES = frozenset({_TOR, _VAN, _EDM, _WPG, _REG, _HAL, _STJ})
_SYD, _MEL, _BNE, _ADL, _PER, _HOB, _DRW = ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane",
                                            "Australia/Adelaide", "Australia/Perth", "Australia/Hobart",
                                            "Australia/Darwin")
AU_ZONES = frozenset({_SYD, _MEL, _BNE, _ADL, _PER, _HOB, _DRW})
BR_ZONES = frozenset({"America/Sao_Paulo", "America/Manaus", "America/Fortaleza", "America/Recife",
                      "America/Belem", "America/Cuiaba", "America/Porto_Velho", "America/Rio_Branco"})
RU_ZONES = frozenset({"Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Novosibirsk",
                      "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Vladivostok", "Europe/Kaliningrad"})
MX_ZONES = frozenset({"America/Mexico_City", "America/Tijuana", "America/Hermosillo", "America/Cancun",
                      "America/Mazatlan"})
ID_ZONES = frozenset({"Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"})

COUNTRIES: dict[str, str] = {
    # Europe
    "united kingdom": "Europe/London", "uk": "Europe/London", "u.k.": "Europe/London", "england": "Europe/London",
    "scotland": "Europe/London", "wales": "Europe/London", "northern ireland": "Europe/London",
    "great britain": "Europe/London", "britain": "Europe/London", "gb": "Europe/London",
    "ireland": "Europe/Dublin", "republic of ireland": "Europe/Dublin",
    "germany": "Europe/Berlin", "deutschland": "Europe/Berlin", "france": "Europe/Paris",
    "netherlands": "Europe/Amsterdam", "the netherlands": "Europe/Amsterdam", "holland": "Europe/Amsterdam",
    "nederland": "Europe/Amsterdam", "belgium": "Europe/Brussels", "belgie": "Europe/Brussels",
    "luxembourg": "Europe/Luxembourg", "switzerland": "Europe/Zurich", "schweiz": "Europe/Zurich",
    "austria": "Europe/Vienna", "osterreich": "Europe/Vienna", "italy": "Europe/Rome", "italia": "Europe/Rome",
    "spain": "Europe/Madrid", "espana": "Europe/Madrid", "portugal": "Europe/Lisbon",
    "denmark": "Europe/Copenhagen", "danmark": "Europe/Copenhagen", "norway": "Europe/Oslo", "norge": "Europe/Oslo",
    "sweden": "Europe/Stockholm", "sverige": "Europe/Stockholm", "finland": "Europe/Helsinki",
    "suomi": "Europe/Helsinki", "iceland": "Atlantic/Reykjavik", "poland": "Europe/Warsaw", "polska": "Europe/Warsaw",
    "czech republic": "Europe/Prague", "czechia": "Europe/Prague", "slovakia": "Europe/Bratislava",
    "hungary": "Europe/Budapest", "slovenia": "Europe/Ljubljana", "croatia": "Europe/Zagreb",
    "serbia": "Europe/Belgrade", "bosnia and herzegovina": "Europe/Sarajevo", "montenegro": "Europe/Podgorica",
    "north macedonia": "Europe/Skopje", "macedonia": "Europe/Skopje", "albania": "Europe/Tirane",
    "romania": "Europe/Bucharest", "bulgaria": "Europe/Sofia", "greece": "Europe/Athens",
    "estonia": "Europe/Tallinn", "latvia": "Europe/Riga", "lithuania": "Europe/Vilnius",
    "ukraine": "Europe/Kyiv", "belarus": "Europe/Minsk", "moldova": "Europe/Chisinau", "malta": "Europe/Malta",
    "cyprus": "Asia/Nicosia", "turkey": "Europe/Istanbul", "turkiye": "Europe/Istanbul",
    # Middle East, Asia, Oceania
    "israel": "Asia/Jerusalem", "lebanon": "Asia/Beirut", "jordan": "Asia/Amman",
    "saudi arabia": "Asia/Riyadh", "united arab emirates": "Asia/Dubai", "uae": "Asia/Dubai", "qatar": "Asia/Qatar",
    "iran": "Asia/Tehran", "iraq": "Asia/Baghdad", "pakistan": "Asia/Karachi", "india": "Asia/Kolkata",
    "sri lanka": "Asia/Colombo", "nepal": "Asia/Kathmandu", "bangladesh": "Asia/Dhaka",
    "myanmar": "Asia/Yangon", "thailand": "Asia/Bangkok", "vietnam": "Asia/Ho_Chi_Minh",
    "viet nam": "Asia/Ho_Chi_Minh", "cambodia": "Asia/Phnom_Penh", "malaysia": "Asia/Kuala_Lumpur",
    "singapore": "Asia/Singapore", "philippines": "Asia/Manila", "china": "Asia/Shanghai", "prc": "Asia/Shanghai",
    "hong kong": "Asia/Hong_Kong", "taiwan": "Asia/Taipei", "south korea": "Asia/Seoul", "korea": "Asia/Seoul",
    "japan": "Asia/Tokyo", "new zealand": "Pacific/Auckland",
    # Africa
    "south africa": "Africa/Johannesburg", "nigeria": "Africa/Lagos", "ghana": "Africa/Accra",
    "kenya": "Africa/Nairobi", "ethiopia": "Africa/Addis_Ababa", "uganda": "Africa/Kampala",
    "tanzania": "Africa/Dar_es_Salaam", "egypt": "Africa/Cairo", "morocco": "Africa/Casablanca",
    "tunisia": "Africa/Tunis", "algeria": "Africa/Algiers", "cameroon": "Africa/Douala", "zimbabwe": "Africa/Harare",
    # Latin America (single-zone countries only)
    "argentina": "America/Argentina/Buenos_Aires", "colombia": "America/Bogota", "peru": "America/Lima",
    "venezuela": "America/Caracas", "uruguay": "America/Montevideo", "paraguay": "America/Asuncion",
    "bolivia": "America/La_Paz", "costa rica": "America/Costa_Rica", "guatemala": "America/Guatemala",
    "cuba": "America/Havana", "puerto rico": "America/Puerto_Rico", "dominican republic": "America/Santo_Domingo",
}

# Multi-zone countries: a constraint, never a zone by themselves.
REGIONS: dict[str, frozenset[str]] = {
    **{k: US_ZONES for k in ("united states", "united states of america", "usa", "us", "u.s.", "u.s.a.",
                             "america")},
    **{k: CA_ZONES for k in ("canada",)},
    **{k: AU_ZONES for k in ("australia",)},
    **{k: BR_ZONES for k in ("brazil", "brasil")},
    **{k: RU_ZONES for k in ("russia", "russian federation")},
    **{k: MX_ZONES for k in ("mexico",)},
    **{k: ID_ZONES for k in ("indonesia",)},
    "chile": frozenset({"America/Santiago", "Pacific/Easter"}),
}

US_STATES: dict[str, str | None] = {
    # None: the state spans two zones (or, for Washington, the name is also the capital) - not used
    "alabama": _CHI, "alaska": _AK, "arizona": _PHX, "arkansas": _CHI, "california": _LA, "colorado": _DEN,
    "connecticut": _NY, "delaware": _NY, "florida": _NY, "georgia": None, "hawaii": _HI, "idaho": None,
    "illinois": _CHI, "indiana": _NY, "iowa": _CHI, "kansas": _CHI, "kentucky": None, "louisiana": _CHI,
    "maine": _NY, "maryland": _NY, "massachusetts": _NY, "michigan": _NY, "minnesota": _CHI,
    "mississippi": _CHI, "missouri": _CHI, "montana": _DEN, "nebraska": _CHI, "nevada": _LA,
    "new hampshire": _NY, "new jersey": _NY, "new mexico": _DEN, "new york": _NY, "north carolina": _NY,
    "north dakota": _CHI, "ohio": _NY, "oklahoma": _CHI, "oregon": _LA, "pennsylvania": _NY,
    "rhode island": _NY, "south carolina": _NY, "south dakota": None, "tennessee": None, "texas": _CHI,
    "utah": _DEN, "vermont": _NY, "virginia": _NY, "washington": None, "west virginia": _NY,
    "wisconsin": _CHI, "wyoming": _DEN, "district of columbia": _NY, "washington dc": _NY,
    "washington d.c.": _NY,
}
US_CODES: dict[str, str | None] = {
    "AL": _CHI, "AK": _AK, "AZ": _PHX, "AR": _CHI, "CA": _LA, "CO": _DEN, "CT": _NY, "DE": _NY, "FL": _NY,
    "GA": _NY, "HI": _HI, "ID": None, "IL": _CHI, "IN": _NY, "IA": _CHI, "KS": _CHI, "KY": None, "LA": _CHI,
    "ME": _NY, "MD": _NY, "MA": _NY, "MI": _NY, "MN": _CHI, "MS": _CHI, "MO": _CHI, "MT": _DEN, "NE": _CHI,
    "NV": _LA, "NH": _NY, "NJ": _NY, "NM": _DEN, "NY": _NY, "NC": _NY, "ND": _CHI, "OH": _NY, "OK": _CHI,
    "OR": _LA, "PA": _NY, "RI": _NY, "SC": _NY, "SD": None, "TN": None, "TX": _CHI, "UT": _DEN, "VT": _NY,
    "VA": _NY, "WA": _LA, "WV": _NY, "WI": _CHI, "WY": _DEN, "DC": _NY,
}
CA_PROVINCES: dict[str, str] = {
    "ontario": _TOR, "quebec": _TOR, "british columbia": _VAN, "alberta": _EDM, "manitoba": _WPG,
    "saskatchewan": _REG, "nova scotia": _HAL, "new brunswick": _HAL, "newfoundland": _STJ,
    "prince edward island": _HAL,
}
CA_CODES: dict[str, str] = {"ON": _TOR, "QC": _TOR, "BC": _VAN, "AB": _EDM, "MB": _WPG, "SK": _REG, "NS": _HAL,
                            "NB": _HAL, "NL": _STJ, "PE": _HAL}
AU_STATES: dict[str, str] = {
    "new south wales": _SYD, "nsw": _SYD, "queensland": _BNE, "qld": _BNE, "south australia": _ADL,
    "western australia": _PER, "tasmania": _HOB, "northern territory": _DRW, "vic": _MEL,
    "australian capital territory": _SYD, "act": _SYD,
}

# Cities. A tuple: the name is shared by places in different zones.
CITIES: dict[str, str | tuple[str, ...]] = {
    # North America
    "new york city": _NY, "nyc": _NY, "brooklyn": _NY, "manhattan": _NY, "queens": _NY, "boston": _NY,
    "philadelphia": _NY, "pittsburgh": _NY, "baltimore": _NY, "atlanta": _NY, "miami": _NY, "orlando": _NY,
    "tampa": _NY, "raleigh": _NY, "charlotte": _NY, "detroit": _NY, "columbus": _NY, "cleveland": _NY,
    "cincinnati": _NY, "buffalo": _NY, "rochester": (_NY, _CHI, "Europe/London"), "chicago": _CHI,
    "houston": _CHI, "dallas": _CHI, "austin": _CHI, "san antonio": _CHI, "minneapolis": _CHI,
    "st. louis": _CHI, "st louis": _CHI, "saint louis": _CHI, "kansas city": _CHI, "milwaukee": _CHI,
    "new orleans": _CHI, "madison": (_CHI, _NY), "denver": _DEN, "boulder": _DEN, "salt lake city": _DEN,
    "albuquerque": _DEN, "phoenix": _PHX, "tucson": _PHX, "los angeles": _LA, "san francisco": _LA,
    "san francisco bay area": _LA, "bay area": _LA, "silicon valley": _LA, "san diego": _LA,
    "san jose": (_LA, "America/Costa_Rica"), "sacramento": _LA, "oakland": _LA, "berkeley": _LA,
    "palo alto": _LA, "mountain view": _LA, "seattle": _LA, "redmond": _LA, "bellevue": _LA,
    "portland": (_LA, _NY), "las vegas": _LA, "honolulu": _HI, "anchorage": _AK,
    "toronto": _TOR, "ottawa": _TOR, "montreal": _TOR, "waterloo": (_TOR, "Europe/Brussels"),
    "vancouver": (_VAN, _LA), "calgary": _EDM, "edmonton": _EDM, "winnipeg": _WPG, "halifax": (_HAL, "Europe/London"),
    "mexico city": "America/Mexico_City", "guadalajara": ("America/Mexico_City", "Europe/Madrid"),
    # Europe
    "london": "Europe/London", "manchester": ("Europe/London", _NY), "birmingham": ("Europe/London", _CHI),
    "edinburgh": "Europe/London", "glasgow": "Europe/London", "leeds": "Europe/London",
    "bristol": ("Europe/London", _NY), "liverpool": "Europe/London", "oxford": ("Europe/London", _NY),
    "cambridge": ("Europe/London", _NY), "sheffield": "Europe/London", "nottingham": "Europe/London",
    "dublin": ("Europe/Dublin", _NY, _LA), "berlin": "Europe/Berlin", "munich": "Europe/Berlin",
    "munchen": "Europe/Berlin", "hamburg": "Europe/Berlin", "frankfurt": "Europe/Berlin", "cologne": "Europe/Berlin",
    "koln": "Europe/Berlin", "stuttgart": "Europe/Berlin", "dresden": "Europe/Berlin", "leipzig": "Europe/Berlin",
    "paris": "Europe/Paris", "lyon": "Europe/Paris", "toulouse": "Europe/Paris", "amsterdam": "Europe/Amsterdam",
    "rotterdam": "Europe/Amsterdam", "utrecht": "Europe/Amsterdam", "delft": "Europe/Amsterdam",
    "eindhoven": "Europe/Amsterdam", "brussels": "Europe/Brussels", "antwerp": "Europe/Brussels",
    "zurich": "Europe/Zurich", "geneva": "Europe/Zurich", "bern": "Europe/Zurich", "basel": "Europe/Zurich",
    "vienna": "Europe/Vienna", "wien": "Europe/Vienna", "rome": "Europe/Rome", "milan": "Europe/Rome",
    "milano": "Europe/Rome", "madrid": "Europe/Madrid", "barcelona": "Europe/Madrid", "valencia": "Europe/Madrid",
    "lisbon": "Europe/Lisbon", "lisboa": "Europe/Lisbon", "porto": "Europe/Lisbon", "copenhagen": "Europe/Copenhagen",
    "oslo": "Europe/Oslo", "stockholm": "Europe/Stockholm", "gothenburg": "Europe/Stockholm",
    "helsinki": "Europe/Helsinki", "warsaw": "Europe/Warsaw", "krakow": "Europe/Warsaw", "wroclaw": "Europe/Warsaw",
    "prague": "Europe/Prague", "brno": "Europe/Prague", "budapest": "Europe/Budapest", "bucharest": "Europe/Bucharest",
    "sofia": "Europe/Sofia", "athens": ("Europe/Athens", _NY), "belgrade": "Europe/Belgrade",
    "zagreb": "Europe/Zagreb", "ljubljana": "Europe/Ljubljana", "tallinn": "Europe/Tallinn", "riga": "Europe/Riga",
    "vilnius": "Europe/Vilnius", "kyiv": "Europe/Kyiv", "kiev": "Europe/Kyiv", "minsk": "Europe/Minsk",
    "moscow": ("Europe/Moscow", _DEN), "saint petersburg": ("Europe/Moscow", _NY),
    "st petersburg": ("Europe/Moscow", _NY), "istanbul": "Europe/Istanbul", "reykjavik": "Atlantic/Reykjavik",
    # elsewhere
    "tel aviv": "Asia/Jerusalem", "jerusalem": "Asia/Jerusalem", "haifa": "Asia/Jerusalem", "dubai": "Asia/Dubai",
    "tehran": "Asia/Tehran", "karachi": "Asia/Karachi", "lahore": "Asia/Karachi", "islamabad": "Asia/Karachi",
    "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata", "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata", "chennai": "Asia/Kolkata", "pune": "Asia/Kolkata", "kolkata": "Asia/Kolkata",
    "hyderabad": ("Asia/Kolkata", "Asia/Karachi"), "dhaka": "Asia/Dhaka", "colombo": "Asia/Colombo",
    "kathmandu": "Asia/Kathmandu", "bangkok": "Asia/Bangkok", "hanoi": "Asia/Ho_Chi_Minh",
    "ho chi minh city": "Asia/Ho_Chi_Minh", "saigon": "Asia/Ho_Chi_Minh", "kuala lumpur": "Asia/Kuala_Lumpur",
    "jakarta": "Asia/Jakarta", "manila": "Asia/Manila", "beijing": "Asia/Shanghai", "shanghai": "Asia/Shanghai",
    "shenzhen": "Asia/Shanghai", "taipei": "Asia/Taipei", "seoul": "Asia/Seoul", "tokyo": "Asia/Tokyo",
    "osaka": "Asia/Tokyo", "kyoto": "Asia/Tokyo", "sydney": (_SYD, _HAL), "melbourne": (_MEL, _NY),
    "brisbane": _BNE, "perth": (_PER, "Europe/London"), "adelaide": _ADL, "canberra": _SYD, "hobart": _HOB,
    "darwin": _DRW, "auckland": "Pacific/Auckland", "wellington": "Pacific/Auckland",
    "christchurch": "Pacific/Auckland", "cape town": "Africa/Johannesburg", "johannesburg": "Africa/Johannesburg",
    "lagos": "Africa/Lagos", "nairobi": "Africa/Nairobi", "cairo": "Africa/Cairo", "accra": "Africa/Accra",
    "buenos aires": "America/Argentina/Buenos_Aires", "bogota": "America/Bogota", "lima": ("America/Lima", _NY),
    "santiago": ("America/Santiago", "Europe/Madrid"), "sao paulo": "America/Sao_Paulo",
    "rio de janeiro": "America/Sao_Paulo", "montevideo": "America/Montevideo",
}
# "Victoria" is a state of Australia and the capital of British Columbia.
_AMBIGUOUS_EXTRA: dict[str, tuple[str, ...]] = {"victoria": (_MEL, _VAN), "georgia": ("Asia/Tbilisi", _NY),
                                                "jersey": ("Europe/Jersey", _NY)}

# Phrases that contain a place name but constrain nothing ("South America" is not the United States).
_NEUTRAL = frozenset({"south america", "latin america", "central america", "north america", "new england",
                      "middle east", "east coast", "west coast", "pacific northwest"})
_MAX_WORDS = 4


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def _candidates(phrase: str) -> frozenset[str] | None:
    """Zones a (folded) phrase may stand for; None when the phrase is not a known place name."""
    if phrase in _NEUTRAL:
        return frozenset()
    if phrase in COUNTRIES:
        return frozenset({COUNTRIES[phrase]})
    if phrase in REGIONS:
        return REGIONS[phrase]
    if phrase in US_STATES:
        z = US_STATES[phrase]
        return frozenset({z}) if z else US_ZONES | ({"Asia/Tbilisi"} if phrase == "georgia" else set())
    if phrase in CA_PROVINCES:
        return frozenset({CA_PROVINCES[phrase]})
    if phrase in AU_STATES:
        return frozenset({AU_STATES[phrase]})
    if phrase in CITIES:
        z = CITIES[phrase]
        return frozenset(z) if isinstance(z, tuple) else frozenset({z})
    if phrase in _AMBIGUOUS_EXTRA:
        return frozenset(_AMBIGUOUS_EXTRA[phrase])
    return None


def zone_for_location(text: str | None) -> str | None:
    """The one IANA zone a free-text location stands for, or None (unknown, ambiguous or contradictory).

    The text is split into parts at commas, slashes and similar; every known place name in it (whole
    parts, or runs of up to four words inside a part, longest first; two-letter upper-case US state
    and Canadian province codes as a later part) contributes the set of zones it may stand for, and
    the location resolves only when the intersection of all these sets is exactly one zone.
    """
    if not text or not text.strip():
        return None
    raw_parts = [p.strip() for p in re.split(r"[,;/|()\[\]]+|\s[-–]\s", text) if p.strip()]
    sets: list[frozenset[str]] = []
    for i, raw in enumerate(raw_parts):
        code = raw.strip(". ")
        if i > 0 and re.fullmatch(r"[A-Z]{2}", code):
            if code in US_CODES or code in CA_CODES:
                zs = {z for z in (US_CODES.get(code), CA_CODES.get(code)) if z}
                if zs:
                    sets.append(frozenset(zs))
                continue
        folded = _fold(raw)
        words = re.findall(r"[a-z0-9.'&]+", folded)
        words = [w.strip(".") if w not in ("u.s.", "u.s.a.", "u.k.", "d.c.", "st.") else w for w in words]
        used = [False] * len(words)
        for n in range(min(_MAX_WORDS, len(words)), 0, -1):
            for s in range(0, len(words) - n + 1):
                if any(used[s:s + n]):
                    continue
                cand = _candidates(" ".join(words[s:s + n]))
                if cand is not None:
                    if cand:
                        sets.append(cand)
                    for k in range(s, s + n):
                        used[k] = True
    if not sets:
        return None
    out = sets[0]
    for s in sets[1:]:
        out = out & s
    return next(iter(out)) if len(out) == 1 else None


# --------------------------------------------------------------------------------------------------
# The reference curve
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A local-time weekly activity curve (168 bins, Monday 00:00-00:59 = 0, sums to 1) with its provenance."""

    name: str
    curve: np.ndarray
    chronotype_sd_hours: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def daily(self) -> np.ndarray:
        """The curve folded to 24 local hours (sums to 1)."""
        return self.curve.reshape(7, 24).sum(axis=0)


def reference_path(name: str = DEFAULT_REFERENCE) -> Path:
    return Path(str(resources.files("forumscope") / "data" / "rhythm" / _SHIPPED[name]))


def load_reference(name_or_path: str = DEFAULT_REFERENCE) -> Reference:
    """Load a shipped reference by name (``se-meta``) or a reference JSON file by path."""
    if name_or_path in _SHIPPED:
        path = reference_path(name_or_path)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"rhythm reference {name_or_path!r} is neither a shipped reference "
                              f"({', '.join(_SHIPPED)}) nor a file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"rhythm reference {path}: cannot be read ({exc})") from None
    return reference_from_dict(doc, source=str(path))


def reference_from_dict(doc: dict[str, Any], source: str = "<dict>") -> Reference:
    curve = doc.get("curve")
    if doc.get("format") != FORMAT or not isinstance(curve, list) or len(curve) != HOURS_OF_WEEK:
        raise ConfigError(f"rhythm reference {source}: expected format {FORMAT!r} with a 'curve' of "
                          f"{HOURS_OF_WEEK} values")
    arr = np.asarray(curve, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ConfigError(f"rhythm reference {source}: curve values must be positive numbers")
    sd = float(doc.get("chronotype_sd_hours", 1.5))
    if not (0 <= sd <= 6):
        raise ConfigError(f"rhythm reference {source}: chronotype_sd_hours must lie in [0, 6]")
    prov = {k: v for k, v in doc.items() if k not in ("curve",)}
    return Reference(str(doc.get("name", Path(source).stem)), arr / arr.sum(), sd, prov)


def curve_from_daily(weekday: Sequence[float], weekend: Sequence[float]) -> np.ndarray:
    """A 168-bin curve from a weekday and a weekend 24-hour curve (Saturday and Sunday use the weekend one)."""
    wd, we = np.asarray(weekday, float), np.asarray(weekend, float)
    c = np.concatenate([wd] * 5 + [we] * 2)
    return c / c.sum()


def reference_document(name: str, curve: np.ndarray, chronotype_sd_hours: float, **provenance: Any) -> dict:
    """A reference as the JSON document :func:`load_reference` reads."""
    c = np.asarray(curve, float)
    return {"format": FORMAT, "version": 1, "name": name, "bins": "local hour of week, Monday 00:00-00:59 = 0",
            "chronotype_sd_hours": round(float(chronotype_sd_hours), 3), **provenance,
            "curve": [round(float(x), 7) for x in c / c.sum()]}


# --------------------------------------------------------------------------------------------------
# Building the reference from a case holding Stack Exchange dumps
# --------------------------------------------------------------------------------------------------

FIT_SITES = ("se-bicycles-meta", "se-history-meta", "se-conlang-meta")
HELD_OUT_SITES = ("se-cardano",)


def located_events(con: Any, forums: Sequence[str]) -> Any:
    """Per located user of ``forums``: zone and distinct active UTC hours (as a pandas DataFrame).

    Actions counted: posts (questions, answers, comments, wikis) by the user, moderation/edit events by
    the user, account creation (``registered_at``) and last access (``last_seen_at``). One action per
    (user, UTC hour) is kept, so a burst of edits counts once. The Community user (id -1) and bots are left out.
    """
    import pandas as pd

    users = con.execute(
        "SELECT forum_id, id AS user_id, location FROM users WHERE forum_id IN (SELECT unnest(?)) "
        "AND location IS NOT NULL AND id <> '-1' AND coalesce(is_bot, false) = false", [list(forums)]).df()
    users["zone"] = [zone_for_location(x) for x in users["location"]]
    users = users[users["zone"].notna()][["forum_id", "user_id", "zone"]]
    con.register("_rh_users", users)
    try:
        ev = con.execute("""
            WITH acts AS (
                SELECT forum_id, author_id AS user_id, created_at AS t FROM posts
                UNION ALL SELECT forum_id, user_id, created_at FROM events
                UNION ALL SELECT forum_id, id, registered_at FROM users
                UNION ALL SELECT forum_id, id, last_seen_at FROM users)
            SELECT DISTINCT a.forum_id, a.user_id, u.zone, date_trunc('hour', a.t) AS hr
            FROM acts a JOIN _rh_users u USING (forum_id, user_id)
            WHERE a.t IS NOT NULL""").df()
    finally:
        con.unregister("_rh_users")
    return pd.DataFrame(ev)


def local_hour_of_week(hours_utc: Any, zones: Any) -> np.ndarray:
    """Local hour of week (Monday 00 = 0) of UTC hour stamps in their zones (DST-aware, zoneinfo)."""
    import pandas as pd

    out = np.empty(len(hours_utc), dtype=np.int64)
    ts = pd.DatetimeIndex(pd.to_datetime(hours_utc)).tz_localize("UTC")
    zones = np.asarray(zones)
    for z in np.unique(zones):
        m = zones == z
        loc = ts[m].tz_convert(z)
        out[m] = loc.dayofweek.to_numpy() * 24 + loc.hour.to_numpy()
    return out


def user_weights(user_codes: np.ndarray, cap: float) -> np.ndarray:
    """Per-action weight so that every user contributes at most ``cap`` actions' worth."""
    n_u = np.bincount(user_codes)
    return np.minimum(1.0, cap / n_u[user_codes])


def curve_from_histogram(hist: np.ndarray, *, smooth: float = 1.0, floor: float = 0.02, day_levels: bool = False,
                         clip_quantile: float | None = 0.5) -> np.ndarray:
    """A 168-bin curve from a (weighted) local hour-of-week histogram.

    Weekdays (Mon-Fri) and weekend days (Sat, Sun) are pooled into two 24-hour shapes, each smoothed
    with a circular Gaussian kernel of ``smooth`` hours. With ``clip_quantile`` every hour above that
    quantile of its shape is lowered to it: the curve then says when people are *not* active (the
    night and its edges) and leaves the day flat, because where the day peaks depends on the platform
    (office hours on a Q&A site, evenings on a leisure forum) while the night trough does not.
    ``day_levels`` keeps the relative activity of the seven days (platform-specific too; off by
    default). ``floor`` (a share of the mean) keeps every bin positive.
    """
    hist = np.asarray(hist, float).reshape(7, 24)
    shapes = []
    for rows in (slice(0, 5), slice(5, 7)):
        sh = hist[rows].sum(axis=0)
        sh = _circular_smooth(sh / sh.sum(), smooth)
        if clip_quantile is not None:
            sh = np.minimum(sh, np.quantile(sh, clip_quantile))
        shapes.append(sh / sh.sum())
    level = hist.sum(axis=1) if day_levels else np.ones(7)
    curve = (np.vstack([shapes[0]] * 5 + [shapes[1]] * 2) * level[:, None]).ravel()
    curve = curve / curve.sum()
    curve = (1 - floor) * curve + floor / HOURS_OF_WEEK
    return curve / curve.sum()


def fit_curve(local_how: np.ndarray, user_codes: np.ndarray, *, cap: float = 40, **kwargs: Any) -> np.ndarray:
    """Pool local hour-of-week actions (one per user and hour) into a curve (see :func:`curve_from_histogram`)."""
    w = user_weights(user_codes, cap)
    hist = np.bincount(local_how, weights=w, minlength=HOURS_OF_WEEK)
    return curve_from_histogram(hist, **kwargs)


def phase_deviations(local_how: np.ndarray, user_codes: np.ndarray, curve: np.ndarray, min_hours: int = 20,
                     max_shift: int = 6) -> np.ndarray:
    """Per user with >= ``min_hours`` actions: the whole-hour shift *d* that best aligns their local-time
    actions with the curve (a late riser has d > 0). Their spread estimates the chronotype sd."""
    n_u = np.bincount(user_codes)
    keep = n_u >= min_hours
    if not keep.any():
        return np.zeros(0)
    remap = np.cumsum(keep) - 1
    sel = keep[user_codes]
    counts = np.zeros((int(keep.sum()), HOURS_OF_WEEK))
    np.add.at(counts, (remap[user_codes[sel]], local_how[sel]), 1.0)
    shifts = np.arange(-max_shift, max_shift + 1)
    u = np.arange(HOURS_OF_WEEK)
    logc = np.log(curve)
    ll = np.stack([counts @ logc[(u - d) % HOURS_OF_WEEK] for d in shifts], axis=1)
    return shifts[np.argmax(ll, axis=1)]


def chronotype_sd(local_how: np.ndarray, user_codes: np.ndarray, curve: np.ndarray,
                  min_hours: int = 20) -> tuple[float, int]:
    """Spread (sd, hours) of personal phase shifts around ``curve`` among users with >= ``min_hours``
    actions, corrected for estimation noise: each user's actions (in the given order) are split into
    alternate halves, and var(d_a - d_b) / 4 estimates the noise variance of the full-data shift."""
    n_u = np.bincount(user_codes)
    users = np.flatnonzero(n_u >= min_hours)
    if len(users) < 4:
        return float("nan"), int(len(users))
    sel = np.isin(user_codes, users)
    how, codes = local_how[sel], np.searchsorted(users, user_codes[sel])
    d = phase_deviations(how, codes, curve, 1)
    order = np.zeros(len(codes), dtype=np.int64)
    for u in range(len(users)):  # rank of each action within its user (stable)
        m = np.flatnonzero(codes == u)
        order[m] = np.arange(len(m))
    half = order % 2 == 0
    da = phase_deviations(how[half], codes[half], curve, 1)
    db = phase_deviations(how[~half], codes[~half], curve, 1)
    var = float(np.var(d, ddof=1)) - float(np.var(da - db, ddof=1)) / 4.0
    return float(np.sqrt(max(var, 0.25))), int(len(users))


# Settings of the shipped reference (documented in docs/analyses/rhythm.md).
BUILD_SETTINGS = {"cap": 40, "smooth": 1.0, "floor": 0.02, "day_levels": False, "clip_quantile": 0.5,
                  "chronotype_min_hours": 20}


def build_reference(con: Any, forums: Sequence[str] = FIT_SITES, *, name: str = DEFAULT_REFERENCE,
                    settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the reference document from the located users of ``forums`` in a case (a DuckDB connection).

    Deterministic: the same case and settings give the same document.
    """
    import pandas as pd

    cfg = {**BUILD_SETTINGS, **(settings or {})}
    ev = located_events(con, forums)
    if ev.empty:
        raise ConfigError(f"no located users with timestamped actions in {list(forums)}")
    ev = ev.sort_values(["forum_id", "user_id", "hr"], kind="stable").reset_index(drop=True)
    how = local_hour_of_week(ev["hr"].to_numpy(), ev["zone"].to_numpy())
    codes = pd.factorize(ev["forum_id"] + "\x1f" + ev["user_id"])[0]
    curve = fit_curve(how, codes, cap=cfg["cap"], smooth=cfg["smooth"], floor=cfg["floor"],
                      day_levels=cfg["day_levels"], clip_quantile=cfg["clip_quantile"])
    sd, n_sd = chronotype_sd(how, codes, curve, cfg["chronotype_min_hours"])
    unclipped = fit_curve(how, codes, cap=cfg["cap"], smooth=cfg["smooth"], floor=0.0, day_levels=True,
                          clip_quantile=None)
    zones = ev.groupby("zone")["user_id"].nunique().sort_values(ascending=False)
    return reference_document(
        name, curve, sd if np.isfinite(sd) else 1.5,
        description=("Local-time weekly activity of Stack Exchange users whose free-text Location maps to "
                     "one IANA zone; day-time peak clipped at the median, equal day levels."),
        source={"data": "Stack Exchange public data dumps (CC BY-SA), as copied in ../shared/data",
                "sites": list(forums), "held_out_for_evaluation": list(HELD_OUT_SITES),
                "actions": "posts, comments, edit/moderation events by the user, account creation, last access; "
                           "one per user and UTC hour",
                "location_mapping": "forumscope.analyze.rhythm_reference.zone_for_location (gazetteer, "
                                    "unambiguous only)"},
        users=int(codes.max() + 1), actions=int(len(ev)), zones=int(len(zones)),
        top_zones={str(k): int(v) for k, v in zones.head(12).items()},
        chronotype={"users": n_sd, "min_hours": cfg["chronotype_min_hours"],
                    "estimate": "sd of per-user best whole-hour shifts, less the split-half estimation noise"},
        settings=cfg,
        unclipped_daily=[round(float(x), 6) for x in unclipped.reshape(7, 24).sum(axis=0)],
        unclipped_day_levels=[round(float(x), 6) for x in unclipped.reshape(7, 24).sum(axis=1)],
    )


def _circular_smooth(x: np.ndarray, sd: float) -> np.ndarray:
    """Circular Gaussian smoothing of a 24-hour shape (kernel sd in hours)."""
    if sd <= 0:
        return x
    half = 3 * int(np.ceil(sd))
    k = np.arange(-half, half + 1)
    ker = np.exp(-0.5 * (k / sd) ** 2)
    ker /= ker.sum()
    return sum(wt * np.roll(x, off) for off, wt in zip(k, ker))
