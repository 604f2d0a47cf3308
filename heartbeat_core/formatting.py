"""Numbers, units and ages as people read them; shared by every surface and every reason line."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, tzinfo


def format_number(value: float | None, unit: str = "count") -> str:
    """Compact and unit-aware: `12.4k`, `EUR 1.2M`, `93.1%`, `4.2 s`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    if unit == "pct":
        return f"{_trim(value, 1)}%"
    if unit == "ratio":
        return _trim(value, 3)
    if unit in ("seconds", "minutes", "hours", "days"):
        short = {"seconds": "s", "minutes": "min", "hours": "h", "days": "d"}[unit]
        return f"{_compact(value)} {short}"
    if unit.startswith("money:"):
        return f"{unit.split(':', 1)[1]} {_compact(value)}"
    return _compact(value)


def _trim(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _compact(value: float) -> str:
    magnitude = abs(value)
    for threshold, divisor, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= threshold:
            return f"{_trim(value / divisor, 1)}{suffix}"
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}"
    return _trim(value, 2)


_CARRIED = ("pct", "ratio", "seconds", "minutes", "hours", "days")


def trailing_label(unit: str) -> str:
    """The label printed after a formatted number (`clients`), empty when `format_number` already carries
    the unit (`EUR 1.2k`, `93.1%`, `5.03 d`) or there is none (`count`)."""
    if unit.startswith("money:") or unit in _CARRIED or unit == "count":
        return ""
    return unit


def value_parts(value: float | None, unit: str) -> tuple[str, str]:
    """A value as tiles, pages, alerts and MCP text show it: the number (with the unit when the unit is a
    symbol it carries: `EUR 1.2k`, `93.1%`, `5.03 d`) and the label still to print after it (`clients`),
    empty when the number already says it. The one display rule: never "5.03 d days"."""
    shown = format_number(value, unit)
    if shown == "—":  # no value (None or NaN): nothing to label
        return shown, ""
    label = trailing_label(unit)
    if not label or shown.endswith(label):
        return shown, ""
    if value == 1 and label.endswith("s") and not label.endswith("ss"):
        label = label[:-1]  # 1 client, 1 review (units are plural nouns)
    return shown, label


def format_value(value: float | None, unit: str) -> str:
    """`12 clients`, `EUR 1.2k`, `5.03 d`, `—` for no value: `value_parts` joined."""
    shown, label = value_parts(value, unit)
    return f"{shown} {label}" if label else shown


def format_duration(seconds: float) -> str:
    """An age as a chip shows it: `45 s`, `12 min`, `5 h`, `3 d`."""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def format_age(seconds: float) -> str:
    """An age with one decimal where it matters, as a message says it: `45 s`, `12 min`, `5.8 h`, `3.2 d`."""
    if seconds < 3600:
        return format_duration(max(seconds, 0.0))
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _day_month(day: date, today: date) -> str:
    """`2 Nov`, or `2 Nov 2025` in another year: a day people read without parsing (never `2026-11-02`)."""
    return f"{day.day} {day:%b}" if day.year == today.year else f"{day.day} {day:%b %Y}"


def format_date(day: date, today: date) -> str:
    """A day without its age, for text cached past the day (a cut's takeaway): `2 Nov`, `2 Nov 2025`."""
    return _day_month(day, today)


def format_iso_day(text: str) -> str:
    """A label that is an ISO day as a chart names it (`2026-11-02` → `2 Nov`, the year being the page's);
    any other text as it is."""
    if not _ISO_DAY.match(text):
        return text
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return format_date(day, day)


def format_moment(moment: datetime | None, now: datetime, tz: tzinfo = UTC) -> str:
    """A moment as people read it on a phone: `01:12 UTC (5.8 h ago)`, `28 Nov 01:12 UTC (3.2 d ago)`.

    The date is named only when it is not today in `tz`; a future moment says `in …`."""
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    when = f"{format_age(seconds)} ago" if seconds >= 0 else f"in {format_age(-seconds)}"
    return f"{format_clock(moment, now, tz)} ({when})"


def format_clock(moment: datetime, now: datetime, tz: tzinfo = UTC) -> str:
    """A moment without its age, for text cached past the minute: `01:12 UTC`, `28 Nov 01:12 UTC`."""
    local = moment.astimezone(tz)
    zone = local.tzname() or ""
    today = now.astimezone(tz).date()
    shown = (
        local.strftime("%H:%M")
        if local.date() == today
        else f"{_day_month(local.date(), today)} {local:%H:%M}"
    )
    return f"{shown} {zone}".strip()


def format_since(day: date, today: date, *, days: bool = False) -> str:
    """A start date as a culprit line reads it: `since today`, `since 24 Nov`, `since 2 Sep 2025` (another
    year); with `days`, how long that is as an alert says it: `since 2 Nov (30 d)`."""
    if day >= today:
        return "since today"
    return f"since {_day_month(day, today)}" + (f" ({(today - day).days} d)" if days else "")


def format_day(day: date, today: date) -> str:
    """A date as a message's detail row reads it: `today`, `2 Nov (30 d ago)`, `3 Dec (in 1 d)`."""
    if day == today:
        return "today"
    delta = (today - day).days
    return (
        f"{_day_month(day, today)} ({delta} d ago)"
        if delta > 0
        else f"{_day_month(day, today)} (in {-delta} d)"
    )


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00(:00(\.0+)?)?(Z|[+-]00(:?00)?)?$")


def format_when(value: object, now: datetime, tz: tzinfo = UTC) -> str | None:
    """A cell that is a moment or a date (a `datetime`, a `date`, or their ISO text as detail rows carry them),
    as people read it: `24 Nov 11:54 UTC (3.2 d ago)`, `2 Nov (30 d ago)`; None when it is neither.

    A moment at midnight UTC is a date stored as a timestamp (`2026-07-01T00:00:00+00:00`): read as the date."""
    today = now.astimezone(tz).date()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return format_moment(moment, now, tz)
    if isinstance(value, date):
        return format_day(value, today)
    if not isinstance(value, str):
        return None
    text = value.strip()
    midnight = _MIDNIGHT.match(text)
    if _ISO_DAY.match(text) or midnight:
        return format_day(date.fromisoformat(midnight.group(1) if midnight else text), today)
    if _ISO_MOMENT.match(text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return format_when(parsed, now, tz)
    return None


def plural(n: int, one: str, many: str | None = None) -> str:
    """The word a count of `n` takes, so no message says `client(s)`: `client` for 1, `clients` otherwise;
    `many` where an added s is wrong (`is`/`are`, `entry`/`entries`)."""
    if n == 1:
        return one
    return many if many is not None else one + "s"


def counted(n: int, noun: str, many: str | None = None) -> str:
    """`1 client`, `3 clients`: a count with its noun (a singular entity type), as `plural` spells it."""
    return f"{n:,} {plural(n, noun, many)}"


# ------------------------------------------------------------------------------------- detail-row cells

_CURRENCY_COL = re.compile(r"^(?P<what>.*?)_?(?P<cur>eur|usd|gbp|chf|jpy|sek|nok|dkk|pln)$", re.IGNORECASE)
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
# words that name an amount of money in a column (`amount`, `total_fee`): they take the row's currency
_MONEY_WORDS = frozenset({"amount", "fee", "fees", "revenue", "volume", "balance", "price", "cost"})


def column_label(column: str) -> str:
    """A detail column as people read its name: `days_overdue` → `days overdue`, `revenue_eur` → `revenue`
    (the currency goes with each amount instead)."""
    match = _CURRENCY_COL.match(column)
    return (match.group("what") if match else column).replace("_", " ").strip()


def _is_id(column: str) -> bool:
    lowered = column.lower()
    return lowered == "id" or lowered.endswith("_id")


def _currency_of(column: str, row_currency: str | None) -> str | None:
    """The currency an amount column is in: its own suffix (`revenue_eur`), else the row's when its name says
    it holds money (`amount`), else none (a count, a rate, hours)."""
    match = _CURRENCY_COL.match(column)
    if match:
        return match.group("cur").upper()
    words = set(column.lower().split("_"))
    return row_currency if row_currency and words & _MONEY_WORDS else None


def format_cell(
    column: str, value: object, now: datetime, tz: tzinfo = UTC, currency: str | None = None
) -> str:
    """A detail-row cell as people read it: `—` for none, yes/no, ids as they are (`48213`), numbers with
    thousands separators (`12,400`, `99.50`), money with its currency (`EUR 12,400`), moments and dates
    relative to `now` (`24 Nov 11:54 UTC (3.2 d ago)`, `2 Nov (25 d ago)`), any other text as it is.

    `currency` is the row's (a `currency` column, or the metric's money unit): amount columns take it."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else ("yes" if value else "no")
    if isinstance(value, int | float) and _is_id(column):
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        shown = f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"
        money = _currency_of(column, currency)
        return f"{money} {shown}" if money else shown
    return format_when(value, now, tz) or str(value)


def row_currency(columns: list[str], row: list[object], unit: str = "count") -> str | None:
    """The currency a detail row's amounts are in: its `currency` column (a three-letter code), else the
    metric's money unit (`money:EUR`), else none."""
    for column, value in zip(columns, row, strict=False):
        if column.lower() == "currency" and isinstance(value, str) and _CURRENCY_CODE.match(value.strip()):
            return value.strip()
    return unit.split(":", 1)[1] if unit.startswith("money:") else None


def format_row(
    columns: list[str], row: list[object], now: datetime, tz: tzinfo = UTC, unit: str = "count"
) -> list[str]:
    """Every cell of one detail row (`format_cell`), amounts in the row's currency (`row_currency`)."""
    currency = row_currency(columns, row, unit)
    return [format_cell(c, v, now, tz, currency) for c, v in zip(columns, row, strict=False)]
