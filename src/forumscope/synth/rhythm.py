"""Human daily/weekly rhythm in local time, converted to UTC with each zone's DST rules.

For every zone we build a per-hour table of UTC offsets over the period (one
``zoneinfo`` look-up per day, refined hour by hour only on the days where the
offset changes), so that converting all hours of the period to local time is a
vectorised numpy operation.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np

# 1970-01-01 was a Thursday; with Monday = 0 its weekday index is 3.
_EPOCH_WEEKDAY = 3


def hourly_offsets(zone: str, start_epoch: int, hours: int) -> np.ndarray:
    """UTC offset in seconds of ``zone`` at each UTC hour ``start_epoch + 3600*h``, h in [0, hours)."""
    tz = ZoneInfo(zone)
    n_days = hours // 24 + 2

    def off(ts: int) -> int:
        return int(datetime.fromtimestamp(ts, tz).utcoffset().total_seconds())

    day = np.array([off(start_epoch + 86400 * d) for d in range(n_days + 1)], dtype=np.int64)
    out = np.repeat(day[:-1], 24)
    for d in np.nonzero(day[:-1] != day[1:])[0]:
        base = start_epoch + 86400 * int(d)
        out[24 * d: 24 * d + 24] = [off(base + 3600 * k) for k in range(24)]
    return out[:hours]


def curve_at(curve: np.ndarray, hour_frac: np.ndarray) -> np.ndarray:
    """Piecewise-linear curve through the values at the hour centres (h + 0.5), periodic in 24 h."""
    x = (hour_frac - 0.5) % 24.0
    i = np.floor(x).astype(np.int64)
    f = x - i
    return curve[i] * (1.0 - f) + curve[(i + 1) % 24] * f


def local_rate(start_epoch: int, hours: int, offsets: np.ndarray, shift_hours: float,
               weekday_curve: np.ndarray, weekend_curve: np.ndarray) -> np.ndarray:
    """Relative activity at the middle of each UTC hour for a member with this offset table and shift.

    The member behaves as the reference curve does at local time minus ``shift_hours``
    (a night owl with shift +2 is as active at 02:00 as the reference member at midnight).
    Saturday and Sunday (of that shifted local time) use the weekend curve.
    """
    t = start_epoch + 3600 * np.arange(hours, dtype=np.int64) + 1800 + offsets - int(round(shift_hours * 3600))
    day = np.floor_divide(t, 86400)
    hour_frac = (t - day * 86400) / 3600.0
    weekend = ((day + _EPOCH_WEEKDAY) % 7) >= 5
    return np.where(weekend, curve_at(weekend_curve, hour_frac), curve_at(weekday_curve, hour_frac))


def local_hours(epoch_seconds: np.ndarray, zone: str) -> np.ndarray:
    """Local clock hour (0..23) of each UTC epoch second in ``zone`` (exact, via zoneinfo per distinct hour)."""
    tz = ZoneInfo(zone)
    hours = np.floor_divide(epoch_seconds, 3600)
    uniq, inv = np.unique(hours, return_inverse=True)
    offs = np.array([int(datetime.fromtimestamp(int(h) * 3600, tz).utcoffset().total_seconds()) for h in uniq],
                    dtype=np.int64)
    local = epoch_seconds + offs[inv]
    return (np.floor_divide(local, 3600) % 24).astype(np.int64)


def utc(dt: datetime) -> int:
    """Epoch seconds of an aware datetime."""
    return int(dt.astimezone(timezone.utc).timestamp())
