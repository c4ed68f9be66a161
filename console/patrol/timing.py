"""When a schedule's rounds fall due, and which scan time to believe.

Times of day are the site's (``site.timezone``); what is stored is UTC. A schedule names fixed
times ("08:00", "20:00") or every N minutes between two times ("00:00"–"24:00" every 120); a
window that wraps midnight ("20:00"–"08:00") runs through the night.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of "HH:MM" ("24:00" is the end of the day)."""
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"not a time of day HH:MM: {text!r}")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 1440 or int(minutes) >= 60:
        raise ValueError(f"not a time of day HH:MM: {text!r}")
    return value


def day_minutes(times: list[str], every: int | None, start: str, until: str) -> list[int]:
    """The minutes after a day's midnight at which rounds fall due (may exceed 1440 for a window
    that wraps midnight: they belong to the next morning)."""
    if every:
        first, last = parse_hhmm(start), parse_hhmm(until)
        if last <= first:
            last += 1440
        return list(range(first, last, every))
    return sorted({parse_hhmm(t) % 1440 for t in times})


def occurrences(times: list[str], every: int | None, start: str, until: str, zone: str,
                since: datetime, until_at: datetime) -> list[datetime]:
    """Every due time in [since, until_at), in UTC."""
    tz = ZoneInfo(zone)
    minutes = day_minutes(times, every, start, until)
    found: list[datetime] = []
    first_day: date = since.astimezone(tz).date() - timedelta(days=1)
    last_day: date = until_at.astimezone(tz).date()
    day = first_day
    while day <= last_day:
        midnight = datetime.combine(day, time(0), tzinfo=tz)
        for minute in minutes:
            local = (midnight.replace(tzinfo=None) + timedelta(minutes=minute)).replace(tzinfo=tz)
            at = local.astimezone(timezone.utc)
            if since <= at < until_at:
                found.append(at)
        day += timedelta(days=1)
    return sorted(set(found))


def believed_scan_time(claimed: datetime | None, received: datetime, skew_seconds: int,
                       offline_hours: int) -> datetime:
    """The time a scan counts at. A phone that was offline sends its scans later, with the time it
    took them: that time counts, unless it is in the future beyond the allowed skew or older than
    the offline limit; then the server's receive time counts (both are stored)."""
    if claimed is None:
        return received
    if claimed > received + timedelta(seconds=skew_seconds):
        return received
    if claimed < received - timedelta(hours=offline_hours):
        return received
    return min(claimed, received)
