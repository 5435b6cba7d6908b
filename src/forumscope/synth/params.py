"""Parameters of the synthetic forum generator: every rate and size, with its default.

All parameters live in :class:`SynthParams`; each field has a docstring (the
attribute docstring under it), and ``docs/synth.md`` lists them all with their
defaults (a test checks that none is missing). Parameters are validated in one
place, :meth:`SynthParams.validate`, with one message style.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forumscope.errors import ConfigError

SUPPORTED_LANGUAGES = ("en", "de", "es")


def _languages() -> dict[str, float]:
    return {"en": 0.55, "de": 0.25, "es": 0.20}


def _zone_mix() -> dict[str, dict[str, float]]:
    return {
        "en": {"America/New_York": 0.26, "America/Chicago": 0.10, "America/Los_Angeles": 0.14,
               "Europe/London": 0.20, "Australia/Sydney": 0.07, "Asia/Kolkata": 0.07,
               "Asia/Tokyo": 0.04, "Europe/Berlin": 0.06, "UTC": 0.06},
        "de": {"Europe/Berlin": 0.90, "America/New_York": 0.04, "UTC": 0.06},
        "es": {"Europe/Madrid": 0.40, "America/Mexico_City": 0.25, "America/Argentina/Buenos_Aires": 0.15,
               "America/Bogota": 0.10, "America/Sao_Paulo": 0.05, "UTC": 0.05},
    }


# Relative activity per local clock hour [h, h+1): low at night, evening peak.
WEEKDAY_CURVE = (0.45, 0.25, 0.12, 0.07, 0.05, 0.06, 0.12, 0.25, 0.35, 0.40, 0.45, 0.50,
                 0.60, 0.55, 0.50, 0.55, 0.65, 0.75, 0.85, 0.95, 1.00, 1.00, 0.90, 0.70)
# Saturday and Sunday: later start, busier afternoon, later night.
WEEKEND_CURVE = (0.60, 0.40, 0.22, 0.12, 0.07, 0.05, 0.06, 0.10, 0.20, 0.35, 0.50, 0.60,
                 0.70, 0.75, 0.75, 0.75, 0.80, 0.85, 0.90, 0.95, 1.00, 1.00, 0.95, 0.80)


def _label_rates() -> dict[str, float]:
    return {
        "social_chat": 0.15,
        "technical_help": 0.06,
        "request": 0.04,
        "offer": 0.02,
        "rules_access": 0.015,
        "opsec_advice": 0.02,
        "guilt_easing": 0.01,
        "neutralisation.denial_of_responsibility": 0.005,
        "neutralisation.denial_of_injury": 0.006,
        "neutralisation.denial_of_victim": 0.005,
        "neutralisation.condemnation_of_condemners": 0.005,
        "neutralisation.appeal_to_higher_loyalties": 0.004,
        "normalisation": 0.015,
        "help_seeking": 0.004,
    }


def _domain_mix() -> dict[str, float]:
    return {"piracy": 0.5, "fares": 0.25, "doping": 0.25}


def _board_weights() -> dict[str, float]:
    return {"chat": 0.30, "piracy": 0.18, "fares": 0.12, "doping": 0.12, "help": 0.12, "market": 0.10,
            "releases": 0.06}


def _label_board_multipliers() -> dict[str, dict[str, float]]:
    chat = {"social_chat": 2.0, "technical_help": 0.3, "request": 0.5, "offer": 0.5}
    topic = {"opsec_advice": 1.5, "normalisation": 1.5, "social_chat": 0.5, "guilt_easing": 1.3,
             "neutralisation.denial_of_responsibility": 1.5, "neutralisation.denial_of_injury": 1.5,
             "neutralisation.denial_of_victim": 1.5, "neutralisation.condemnation_of_condemners": 1.5,
             "neutralisation.appeal_to_higher_loyalties": 1.5}
    lounge = {**chat, "opsec_advice": 2.0, "rules_access": 2.0}
    return {
        "chat": chat, "gated_posts": dict(lounge), "gated_rank": dict(lounge),
        "help": {"technical_help": 4.0, "social_chat": 0.3, "request": 1.5},
        "market": {"request": 3.0, "offer": 3.0, "social_chat": 0.4},
        "releases": {"offer": 4.0, "request": 1.5, "technical_help": 2.0, "social_chat": 0.3},
        "piracy": dict(topic), "fares": dict(topic), "doping": dict(topic),
        "announcements": {"rules_access": 25.0, "social_chat": 0.3},
    }


def _label_role_multipliers() -> dict[str, dict[str, float]]:
    return {
        "producer": {"offer": 8.0, "technical_help": 2.0},
        "requester": {"request": 5.0},
        "social": {"social_chat": 2.5},
        "staff": {"rules_access": 6.0},
    }


def _label_opening_post_multipliers() -> dict[str, float]:
    return {"request": 2.5, "offer": 2.5, "help_seeking": 2.5, "technical_help": 2.5}


BOARD_KINDS = ("chat", "piracy", "fares", "doping", "help", "market", "releases", "announcements",
               "gated_posts", "gated_rank")
WEIGHTED_BOARD_KINDS = ("chat", "piracy", "fares", "doping", "help", "market", "releases")
ROLES = ("regular", "producer", "requester", "social", "staff")


@dataclass(frozen=True)
class SynthParams:
    """Every rate and size of the synthetic forum. Defaults aim at a realistic mid-size forum.

    The number of posts and the seed are arguments of :func:`forumscope.synth.generate`;
    the number of members follows from ``posts / posts_per_poster`` and ``lurker_share``.
    """

    # ------------------------------------------------------------ forum and period
    forum_id: str = "synth"
    """Forum id written into every record (`forum_id`)."""
    forum_name: str = "Patch & Ride (synthetic)"
    """Forum name (`forums.name`)."""
    start: str = "2019-01-07T00:00:00Z"
    """First instant of the forum's life (UTC, ISO 8601, whole hour)."""
    days: int = 1095
    """Length of the observed period in days (posts fall in [start, start + days))."""
    chunk_posts: int = 50_000
    """Posts generated and written per chunk (bounds memory; output depends on it)."""

    # ------------------------------------------------------------ members and activity
    posts_per_poster: float = 40.0
    """Mean posts per posting member; sets the number of posters (`posts / posts_per_poster`)."""
    min_posters: int = 40
    """Lower bound on the number of posting members (small forums)."""
    lurker_share: float = 0.60
    """Share of registered members who never post (lurkers)."""
    activity_sigma: float = 1.6
    """Sigma of the log-normal activity weight of posters (heavy tail: a few write most posts)."""
    lifetime_median_days: float = 150.0
    """Median active career of a poster in days (log-normal, longer for more active members)."""
    lifetime_sigma: float = 1.0
    """Sigma of the log-normal career length."""
    growth: float = 3.0
    """Registrations per day at the end of the period relative to the start (exponential growth)."""
    timezone_declared_share: float = 0.10
    """Share of members whose profile declares their time zone (`users.timezone_declared`)."""
    first_post_within_hours: int = 168
    """A poster's first post falls within this many hours after joining (following their rhythm)."""
    registration_lead_hours: tuple[float, float] = (0.2, 72.0)
    """Registration happens this many hours (uniform range) before a poster's first post."""

    # ------------------------------------------------------------ ranks, groups, gates
    rank_names: tuple[str, ...] = ("Newcomer", "Member", "Regular", "Senior Member", "Veteran", "Elder")
    """Names of the rule-based ranks, lowest first (position 0..n-1)."""
    rank_min_posts: tuple[int, ...] = (0, 10, 50, 150, 500, 1500)
    """Post count at which each rank is reached (first must be 0, strictly increasing)."""
    n_admins: int = 2
    """Administrators (group kind admin, special rank Administrator)."""
    moderator_share: float = 0.002
    """Moderators as a share of posters (group kind moderator, special rank Moderator)."""
    min_moderators: int = 3
    """Lower bound on the number of moderators."""
    vip_share: float = 0.02
    """VIP group members as a share of posters (granted some weeks after joining)."""
    vip_after_days: tuple[float, float] = (30.0, 200.0)
    """VIP membership starts this many days (uniform range) after registration."""
    gate_posts: int = 50
    """Posts a member must already have written to post in the post-count-gated board (declared)."""
    gate_rank_position: int = 3
    """Rank position a member must hold (or be VIP/staff) to post in the rank-gated board (undeclared)."""
    gated_post_share: float = 0.12
    """Share of an eligible member's main-language posts that go to each gated board."""
    announce_share: float = 0.03
    """Share of staff posts written in the staff-only announcements board."""

    # ------------------------------------------------------------ languages and time zones
    languages: dict[str, float] = field(default_factory=_languages)
    """Member languages and their shares; the first is the main language (supported: en, de, es)."""
    zone_mix: dict[str, dict[str, float]] = field(default_factory=_zone_mix)
    """Per language: IANA time zones of its members and their shares."""
    chronotype_shifts: tuple[float, ...] = (-1.0, 0.0, 1.0, 2.0)
    """Hours by which a member's rhythm is shifted against the reference curve (early birds, night owls)."""
    chronotype_weights: tuple[float, ...] = (0.2, 0.5, 0.2, 0.1)
    """Shares of the chronotype shifts."""
    weekday_curve: tuple[float, ...] = WEEKDAY_CURVE
    """Relative activity per local hour 0..23 on Monday to Friday."""
    weekend_curve: tuple[float, ...] = WEEKEND_CURVE
    """Relative activity per local hour 0..23 on Saturday and Sunday."""
    cross_language_rate: float = 0.01
    """Share of a non-bridge member's posts written in another language's boards."""

    # ------------------------------------------------------------ key actors and aliases
    hub_share: float = 0.01
    """Hub actors as a share of posters: very active, attract replies, reply widely."""
    min_hubs: int = 3
    """Lower bound on the number of hubs."""
    hub_parent_bonus: float = 4.0
    """Weight multiplier for choosing a hub's post as the parent of a reply."""
    hub_thread_bonus: float = 3.0
    """Attractiveness multiplier of threads started by hubs."""
    bridge_share: float = 0.02
    """Bridges as a share of posters: members active in two language communities."""
    min_bridges: int = 3
    """Lower bound on the number of bridges (when there are two or more languages)."""
    bridge_second_share: float = 0.45
    """Share of a bridge's posts written in their second language."""
    alias_share: float = 0.01
    """Share of posters that are one of the two accounts of an alias pair."""
    min_alias_pairs: int = 2
    """Lower bound on the number of alias pairs."""

    # ------------------------------------------------------------ writing style
    filler_share: float = 0.6
    """Share of members with a personal filler word ("tbh", "halt", "pues"); alias pairs always have one."""
    lowercase_share: float = 0.2
    """Share of members who write all in lower case."""
    no_final_period_share: float = 0.1
    """Share of members who drop the final period."""
    ellipsis_share: float = 0.15
    """Share of members who write "..." for "."."""
    double_punctuation_share: float = 0.10
    """Share of members who double "!" and "?"."""
    emoticon_share: float = 0.5
    """Share of members with a favourite emoticon; alias pairs always have one."""
    signoff_share: float = 0.15
    """Share of members who sign off their posts."""
    substitution_rate: float = 0.15
    """Chance that a member has each of the language's six spelling substitutions ("you" -> "u")."""

    # ------------------------------------------------------------ roles
    producer_share: float = 0.03
    """Producers: offer files and attach records; receive most thanks."""
    requester_share: float = 0.10
    """Requesters: ask for files and favours, start request threads."""
    social_share: float = 0.20
    """Social members: mostly everyday chat."""

    # ------------------------------------------------------------ threads and replies
    new_thread_rate: float = 0.12
    """Share of an ordinary member's posts that open a new thread (mean thread ~8 posts)."""
    producer_new_thread_rate: float = 0.35
    """Share of a producer's posts that open a new thread (releases)."""
    requester_new_thread_rate: float = 0.30
    """Share of a requester's posts that open a new thread (requests)."""
    hub_new_thread_rate: float = 0.05
    """Share of a hub's posts that open a new thread (hubs mostly reply)."""
    announce_new_thread_rate: float = 0.8
    """Share of staff posts in the announcements board that open a new thread."""
    domain_mix: dict[str, float] = field(default_factory=_domain_mix)
    """Topic domains (piracy, fares, doping) of posts in boards without a fixed domain (chat, help, market...)."""
    board_weights: dict[str, float] = field(default_factory=_board_weights)
    """Relative choice of the ordinary board kinds within a language section (releases: main language only)."""
    thread_pool_size: int = 48
    """Open threads tracked per board (older ones stop receiving replies)."""
    thread_decay_posts: float = 40.0
    """A thread's pull on replies decays by e per this many posts in its board."""
    thread_attr_sigma: float = 1.0
    """Sigma of the log-normal attractiveness of a thread."""
    reply_window: int = 8
    """How many of a thread's latest posts a reply can answer (plus the opening post)."""
    reply_recency_decay: float = 0.6
    """Relative weight of answering the k-th latest post is decay**(k-1)."""
    reply_to_op_weight: float = 0.6
    """Relative weight of answering the thread's opening post."""
    self_reply_penalty: float = 0.02
    """Relative weight of answering one's own post, and of joining a thread whose latest post is one's own."""

    # ------------------------------------------------------------ explicit interactions
    quote_rate: float = 0.15
    """Share of replies that quote their parent (interaction kind quote)."""
    mention_rate: float = 0.05
    """Share of replies that @-mention the thread starter (interaction kind mention)."""
    thanks_rate: float = 0.25
    """Mean thanks per ordinary post (Poisson)."""
    thanks_producer_boost: float = 5.0
    """Multiplier of the thanks rate for posts by producers."""
    thanks_help_boost: float = 2.0
    """Multiplier of the thanks rate for offers and technical help."""
    thanks_hub_boost: float = 1.5
    """Multiplier of the thanks rate for posts by hubs."""
    thanks_window: int = 400
    """Thanks are given by authors of one of the next this-many posts in the same language."""
    attachment_rate: float = 0.6
    """Chance that a producer's offer or release post carries an attachment record."""
    stray_attachment_rate: float = 0.0005
    """Chance that any other post carries an attachment record."""
    second_attachment_rate: float = 0.2
    """Chance that a post with an attachment record has a second one."""

    # ------------------------------------------------------------ discourse labels
    label_rates: dict[str, float] = field(default_factory=_label_rates)
    """Base rate per post of each discourse label before board, role and opening-post multipliers."""
    label_board_multipliers: dict[str, dict[str, float]] = field(default_factory=_label_board_multipliers)
    """Per board kind: label -> multiplier of the base rate (missing: 1)."""
    label_role_multipliers: dict[str, dict[str, float]] = field(default_factory=_label_role_multipliers)
    """Per poster role: label -> multiplier of the base rate (missing: 1)."""
    label_opening_post_multipliers: dict[str, float] = field(default_factory=_label_opening_post_multipliers)
    """Label -> multiplier of the base rate for posts that open a thread."""
    neutralisation_normalisation_rate: float = 0.2
    """Chance that a neutralisation post also carries the normalisation label."""
    help_response_rate: float = 0.5
    """Chance that a reply to a help-seeking post is supportive (label help_response)."""
    help_dismissal_rate: float = 0.2
    """Chance that a reply to a help-seeking post is dismissive (label normalisation)."""

    # ------------------------------------------------------------ event
    takedown_fraction: float = 0.6
    """When the releases board is taken down, as a fraction of the period."""
    takedown_drop: float = 0.4
    """Immediate relative drop of forum-wide activity at the takedown."""
    takedown_recovery_level: float = 0.85
    """Long-run activity level after the takedown relative to before (partial recovery)."""
    takedown_recovery_days: float = 30.0
    """Time constant (days) of the recovery from the drop to the long-run level."""

    # ------------------------------------------------------------ methods
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid parameter."""

        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"synth parameter {name}={getattr(self, name)!r}: {why}")

        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.endswith(("_share", "_rate", "_fraction", "_drop", "_level")) and f.name != "label_rates":
                if not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
                    raise bad(f.name, "must be a number between 0 and 1")
        if self.lurker_share >= 1.0:
            raise bad("lurker_share", "must be below 1 (someone has to post)")
        try:
            t = datetime.fromisoformat(self.start.replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            raise bad("start", "must be an ISO 8601 time") from None
        if t.tzinfo is None or t.utcoffset().total_seconds() != 0 or (t.minute, t.second, t.microsecond) != (0, 0, 0):
            raise bad("start", "must be a whole hour in UTC (e.g. 2019-01-07T00:00:00Z)")
        if t.astimezone(timezone.utc).year < 1971:
            raise bad("start", "must be after 1970")
        if not isinstance(self.days, int) or self.days < 30:
            raise bad("days", "must be an integer of at least 30")
        if not isinstance(self.chunk_posts, int) or self.chunk_posts < 1000:
            raise bad("chunk_posts", "must be an integer of at least 1000")
        for name in ("posts_per_poster", "activity_sigma", "lifetime_median_days", "lifetime_sigma", "growth",
                     "hub_parent_bonus", "hub_thread_bonus", "thanks_producer_boost", "thread_decay_posts",
                     "reply_recency_decay", "reply_to_op_weight", "self_reply_penalty", "takedown_recovery_days",
                     "thread_attr_sigma"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v <= 0:
                raise bad(name, "must be a positive number")
        if self.posts_per_poster < 2:
            raise bad("posts_per_poster", "must be at least 2")
        for name in ("min_posters", "n_admins", "min_moderators", "min_hubs", "min_bridges", "min_alias_pairs",
                     "thread_pool_size", "reply_window", "thanks_window", "gate_posts"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise bad(name, "must be a positive integer")
        if self.min_posters < 30:
            raise bad("min_posters", "must be at least 30 (room for staff, hubs, bridges and alias pairs)")
        if len(self.rank_names) != len(self.rank_min_posts) or len(self.rank_names) < 2:
            raise bad("rank_names", "must have one name per rank_min_posts entry (at least two ranks)")
        mp = list(self.rank_min_posts)
        if mp[0] != 0 or any(b <= a for a, b in zip(mp, mp[1:])) or not all(isinstance(x, int) for x in mp):
            raise bad("rank_min_posts", "must be integers starting at 0 and strictly increasing")
        if not 1 <= self.gate_rank_position < len(mp):
            raise bad("gate_rank_position", f"must be a rank position between 1 and {len(mp) - 1}")
        if not self.languages or any(lang not in SUPPORTED_LANGUAGES for lang in self.languages):
            raise bad("languages", f"languages must be among {', '.join(SUPPORTED_LANGUAGES)}")
        if any((not isinstance(w, (int, float))) or w <= 0 for w in self.languages.values()):
            raise bad("languages", "shares must be positive numbers")
        for lang in self.languages:
            mix = self.zone_mix.get(lang)
            if not mix or any(w <= 0 for w in mix.values()):
                raise bad("zone_mix", f"needs positive zone shares for language {lang!r}")
            for z in mix:
                try:
                    ZoneInfo(z)
                except (ZoneInfoNotFoundError, ValueError):
                    raise bad("zone_mix", f"unknown IANA time zone {z!r}") from None
        if len(self.chronotype_shifts) != len(self.chronotype_weights) or not self.chronotype_shifts:
            raise bad("chronotype_shifts", "must have one weight per shift")
        if any(w < 0 for w in self.chronotype_weights) or sum(self.chronotype_weights) <= 0:
            raise bad("chronotype_weights", "must be non-negative and not all zero")
        for name in ("weekday_curve", "weekend_curve"):
            c = getattr(self, name)
            if len(c) != 24 or any(v <= 0 for v in c):
                raise bad(name, "must have 24 positive values (local hours 0..23)")
        from forumscope.synth.text import LABELS

        for k, v in self.label_rates.items():
            if k not in LABELS or k == "help_response":
                raise bad("label_rates", f"unknown or derived label {k!r}")
            if not isinstance(v, (int, float)) or v < 0:
                raise bad("label_rates", f"rate of {k!r} must be non-negative")
        if sum(self.label_rates.values()) >= 0.9:
            raise bad("label_rates", "base rates must sum to less than 0.9 (most posts are ordinary)")
        def check_mult(name: str, m: dict[str, float]) -> None:
            for k, v in m.items():
                if k not in LABELS:
                    raise bad(name, f"unknown label {k!r}")
                if not isinstance(v, (int, float)) or v < 0:
                    raise bad(name, f"multiplier of {k!r} must be non-negative")

        for kind, m in self.label_board_multipliers.items():
            if kind not in BOARD_KINDS:
                raise bad("label_board_multipliers", f"unknown board kind {kind!r} (known: {', '.join(BOARD_KINDS)})")
            check_mult("label_board_multipliers", m)
        for role, m in self.label_role_multipliers.items():
            if role not in ROLES:
                raise bad("label_role_multipliers", f"unknown role {role!r} (known: {', '.join(ROLES)})")
            check_mult("label_role_multipliers", m)
        check_mult("label_opening_post_multipliers", self.label_opening_post_multipliers)
        if set(self.domain_mix) != {"piracy", "fares", "doping"} or any(
                not isinstance(v, (int, float)) or v < 0 for v in self.domain_mix.values()) or sum(
                self.domain_mix.values()) <= 0:
            raise bad("domain_mix", "needs non-negative shares for piracy, fares and doping, not all zero")
        if set(self.board_weights) != set(WEIGHTED_BOARD_KINDS) or any(
                not isinstance(v, (int, float)) or v < 0 for v in self.board_weights.values()):
            raise bad("board_weights", f"needs non-negative weights for {', '.join(WEIGHTED_BOARD_KINDS)}")
        if sum(v for k, v in self.board_weights.items() if k != "releases") <= 0:
            raise bad("board_weights", "some board other than releases needs a positive weight")
        for name in ("registration_lead_hours", "vip_after_days"):
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1]:
                raise bad(name, "must be a (low, high) pair with 0 < low <= high")
        if not isinstance(self.first_post_within_hours, int) or self.first_post_within_hours < 1:
            raise bad("first_post_within_hours", "must be a positive integer")
        if self.lowercase_share + self.no_final_period_share > 1:
            raise bad("lowercase_share", "lowercase_share + no_final_period_share must not exceed 1")
        for name in ("thanks_help_boost", "thanks_hub_boost"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) <= 0:
                raise bad(name, "must be a positive number")
        if self.help_response_rate + self.help_dismissal_rate > 1:
            raise bad("help_dismissal_rate", "help_response_rate + help_dismissal_rate must not exceed 1")
        if not 0.05 <= self.takedown_fraction <= 0.95:
            raise bad("takedown_fraction", "must be between 0.05 and 0.95")

    def start_datetime(self) -> datetime:
        """``start`` as an aware UTC datetime."""
        return datetime.fromisoformat(self.start.replace("Z", "+00:00")).astimezone(timezone.utc)
