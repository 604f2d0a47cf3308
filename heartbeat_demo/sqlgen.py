"""The set-based SQL that generates the demo world inside the source database.

Everything is computed by Postgres from `generate_series` and a seeded hash (`hashint8extended`, stable
across servers because hash partitioning relies on it), so a world of 15M payments never passes through
Python and the same seed and `now` give the same rows. Helper functions live in schema `demo_gen`,
which is dropped at the end of a build.

The SQL lives in templates beside this module (`world_sql/*.sql`); `render` fills their `{name}`
placeholders with quoted SQL literals (psycopg's `sql.Literal`), never by pasting text. Conventions:
`demo_gen.u(x, salt)` is a uniform number in (0, 1) for the integer `x`; `demo_gen.n(x, salt)` a standard
normal one. Each column draws from its own salt, so draws are independent.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any

from psycopg import sql

# Base value of one unit of each currency in EUR; the rate files wander around these.
BASE_RATES: dict[str, float] = {
    "EUR": 1.0,
    "USD": 0.92,
    "GBP": 1.17,
    "CHF": 1.06,
    "PLN": 0.232,
    "SEK": 0.088,
    "NOK": 0.086,
    "DKK": 0.134,
    "CZK": 0.0402,
    "HUF": 0.00252,
}

ACME_CLIENT_ID = 42
ACME_NAME = "ACME Ltd"
HISTORY_DAYS = 180
# Reviewers whose reviews stopped moving a week ago (incident c).
AML_REVIEWERS = ["a.kask", "b.ivanova", "c.muller", "d.rossi", "e.novak"]
AML_STALLED_REVIEWERS = ["c.muller", "d.rossi", "e.novak"]

FIRST_NAMES = [
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Katrin", "Luca",
    "Maria", "Nils", "Olga", "Pablo", "Quentin", "Rosa", "Sven", "Tanel", "Ursula", "Viktor", "Wanda",
    "Yann", "Zofia", "Marek", "Liis", "Piotr", "Chiara", "Emil",
]  # fmt: skip
LAST_NAMES = [
    "Muller", "Schmidt", "Rossi", "Garcia", "Novak", "Kask", "Tamm", "Dubois", "Jansen", "Nowak",
    "Lindqvist", "Ivanova", "Moreau", "Bianchi", "Fischer", "Kowalski", "Horvat", "Berg", "Silva",
    "Weber", "Laine", "Petrov", "Costa", "Olsen", "Vogel",
]  # fmt: skip
COMPANY_WORDS_A = [
    "Nordic", "Blue", "Bright", "Alpine", "Baltic", "Urban", "Green", "Silver", "Swift", "Golden",
    "Harbor", "Prime", "Atlas", "Vertex", "Amber", "Delta", "Polar", "Iron", "Coral", "Lumen",
]  # fmt: skip
COMPANY_WORDS_B = [
    "Logistics", "Trading", "Studio", "Systems", "Foods", "Textiles", "Labs", "Partners", "Freight",
    "Media", "Energy", "Imports", "Software", "Retail", "Consulting", "Robotics", "Travel", "Pharma",
]  # fmt: skip
COMPANY_SUFFIX = ["Ltd", "GmbH", "BV", "SAS", "AB", "OÜ", "UAB", "Sp. z o.o.", "SRL", "Oy"]
COUNTRIES = ["DE"] * 5 + ["FR"] * 4 + ["NL"] * 3 + ["ES"] * 3 + ["IT"] * 3 + ["GB"] * 3 + ["PL"] * 2 + [
    "SE", "EE", "LT", "LV", "FI", "AT", "BE", "IE", "PT",
]  # fmt: skip
PAY_CURRENCIES = ["EUR"] * 30 + ["USD"] * 3 + ["GBP"] * 2 + ["CHF", "PLN", "SEK", "NOK", "DKK"]
TICKET_TOPICS = ["payment"] * 6 + ["card"] * 5 + ["onboarding"] * 3 + ["fees"] * 2 + ["aml"] + ["account"] * 3
TICKET_PRIORITIES = ["low"] * 6 + ["normal"] * 10 + ["high"] * 3 + ["urgent"]

# The steps of a live tick, in order (templates `live_<step>.sql`).
LIVE_STEPS = ("window", "payments", "advance", "aml", "tickets", "signups", "cards")


def _word_lists() -> dict[str, list[str]]:
    """The text arrays the templates pick from, by placeholder name."""
    return {
        "first_names": FIRST_NAMES,
        "last_names": LAST_NAMES,
        "company_words_a": COMPANY_WORDS_A,
        "company_words_b": COMPANY_WORDS_B,
        "company_suffix": COMPANY_SUFFIX,
        "countries": COUNTRIES,
        "pay_currencies": PAY_CURRENCIES,
        "ticket_topics": TICKET_TOPICS,
        "ticket_priorities": TICKET_PRIORITIES,
        "aml_reviewers": AML_REVIEWERS,
        "aml_stalled_reviewers": AML_STALLED_REVIEWERS,
    }


def render(name: str, **params: Any) -> sql.Composed:
    """Template `world_sql/<name>.sql` with every `{param}` a quoted SQL literal (a `sql.Composable` is
    inserted as it is); the word lists are always available."""
    text = resources.files("heartbeat_demo.world_sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")
    values = {**_word_lists(), **params}
    return sql.SQL(text).format(
        **{k: v if isinstance(v, sql.Composable) else sql.Literal(v) for k, v in values.items()}
    )


def helper_functions(seed: int, now: datetime) -> sql.Composed:
    """Schema demo_gen with the seeded random helpers and the payment lifecycle as inlinable SQL."""
    rates = sql.SQL(", ").join(
        sql.SQL("({}, {})").format(sql.Literal(c), sql.Literal(r)) for c, r in BASE_RATES.items()
    )
    return render("helpers", seed=int(seed), now=now, base_rates=rates)


def day_table(scale: int) -> sql.Composed:
    """One row per calendar day (UTC) of the history: growth, weekly seasonality and daily noise."""
    return render("day", history_days=HISTORY_DAYS, scale=int(scale))


def clients(scale: int) -> sql.Composed:
    """Clients (6000 per scale unit before the history, then daily sign-ups), their state log, and
    the approved clients by rank that payments, reviews and tickets pick from."""
    return render("clients", pre=6000 * int(scale), acme=ACME_CLIENT_ID, acme_name=ACME_NAME)


def payments(scale: int, first_day: int = 0, last_day: int = HISTORY_DAYS) -> sql.Composed:
    """Payments created on history days [first_day, last_day], with their state log and ledger entries,
    in one statement (writable CTEs), so day ranges can be generated side by side."""
    return render("payments", first_day=int(first_day), last_day=int(last_day))


def aml(scale: int) -> sql.Composed:
    return render("aml")


def cards(scale: int) -> sql.Composed:
    return render("cards", acme=ACME_CLIENT_ID)


def helpdesk(scale: int) -> sql.Composed:
    return render("helpdesk")


def live(scale: int, start: datetime, now: datetime) -> sql.Composed:
    """New rows created in (start, now] and every lifecycle step that became due by now.

    Uses the same per-id formulas as the full build (growth at its end level, the weekday and time-of-day
    profile of `now`), so a live world keeps its shape and its incidents: the screening rule keeps
    rejecting, the stalled reviewers stay stalled, the rate files stay missing.
    """
    return sql.Composed([render(f"live_{step}", start=start, scale=int(scale)) for step in LIVE_STEPS])
