"""Public holidays from the ``holidays`` package, expanded a year at a time."""

from __future__ import annotations

import functools
from datetime import date

import attrs

from ticketflow.errors import CalendarError

__all__ = ["HolidaySource", "holidays_for"]


@attrs.frozen
class HolidaySource:
    """A country's (and optionally a subdivision's) public holidays.

    Observed days are included (Christmas on a Saturday is observed on the
    Friday before, in the US). Years are expanded when a calendar first
    needs them. Build one with :func:`holidays_for`.

    Attributes:
        country: ISO 3166 country code, such as ``"US"``.
        subdiv: a subdivision code, such as ``"NY"``, or ``None``.
        observed: include observed days (default ``True``).
    """

    country: str
    subdiv: str | None = None
    observed: bool = True

    def dates(self, year: int) -> frozenset[date]:
        """The holiday dates of *year* (observed days included)."""
        return _dates(self.country, self.subdiv, self.observed, year)


@functools.lru_cache(maxsize=1024)
def _dates(country: str, subdiv: str | None, observed: bool, year: int) -> frozenset[date]:
    import holidays

    try:
        table = holidays.country_holidays(country, subdiv=subdiv, years=year, observed=observed)
    except NotImplementedError as exc:
        raise CalendarError(f"holidays: {exc}; see the `holidays` package for supported codes") from exc
    return frozenset(d for d in table if d.year == year)


def holidays_for(country: str, subdiv: str | None = None, *, observed: bool = True) -> HolidaySource:
    """Public holidays of *country* (and *subdiv*), for a :class:`BusinessCalendar`.

    The country is an ISO 3166 code, in either case (``"us"`` is ``"US"``),
    and so is a subdivision code (``"ny"`` is ``"NY"``, when the country has
    no subdivision named ``"ny"`` as written).

    Raises:
        CalendarError: the country or subdivision is unknown.
    """
    if not isinstance(country, str) or not (subdiv is None or isinstance(subdiv, str)):
        raise CalendarError(f"holidays: country and subdiv are codes such as 'US' and 'NY', got {country!r:.40}")
    if not isinstance(observed, bool):
        raise CalendarError(f"holidays: observed is true or false, got {observed!r:.40}")
    source = HolidaySource(country.strip().upper(), subdiv, observed)  # ISO 3166 codes: 'us' is 'US'
    try:
        source.dates(2026)  # fail now, not in the middle of an SLA computation
    except CalendarError:
        if subdiv is None or subdiv.upper() == subdiv:
            raise
        # most subdivision codes are capitals ('ny' is 'NY'); a few are names ('Zone A'), tried as given first
        upper = HolidaySource(source.country, subdiv.upper(), observed)
        try:
            upper.dates(2026)
        except CalendarError:
            raise CalendarError(
                f"holidays: {source.country} has no subdivision {subdiv!r} (nor {subdiv.upper()!r}); "
                "see the `holidays` package for supported codes"
            ) from None
        return upper
    return source
