"""调度 (``schedule``): checking a cron string before Dagster sees it, so a bad one is an error
naming the spec's field instead of a failure when the code location loads."""

from __future__ import annotations

_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_CRON_NAMES = {
    3: {m: i for i, m in enumerate(_MONTHS, 1)},
    4: {d: i for i, d in enumerate(_WEEKDAYS)},
}
CRON_MACROS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually")


def check_cron(text: str) -> str:
    """A standard 5-field cron string (or @daily …); raise ValueError naming the bad field."""
    text = " ".join(str(text).split())
    if text.lower() in CRON_MACROS:
        return text.lower()
    parts = text.split(" ")
    if len(parts) != 5:
        raise ValueError(
            f"bad schedule {text!r}: expected 5 cron fields (minute hour "
            f"day-of-month month day-of-week) or one of {', '.join(CRON_MACROS)}"
        )
    for index, (part, (label, low, high)) in enumerate(zip(parts, _CRON_FIELDS, strict=True)):
        names = _CRON_NAMES.get(index, {})
        for item in part.split(","):
            span, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                raise ValueError(f"bad schedule {text!r}: bad step {step!r} in the {label} field")
            bounds = [] if span == "*" else span.split("-")
            if len(bounds) > 2:
                raise ValueError(f"bad schedule {text!r}: bad range {span!r} in the {label} field")
            for bound in bounds:
                value = names.get(bound.upper(), int(bound) if bound.isdigit() else None)
                if value is None or not low <= value <= high:
                    raise ValueError(
                        f"bad schedule {text!r}: {bound!r} is out of range for "
                        f"the {label} field ({low}-{high})"
                    )
    return text
