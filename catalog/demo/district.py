"""A deterministic demo district (示范区): 343 organisations, 35,700 catalogue entries and a year
of update events, shaped after a real district data office's numbers (343 政务服务机构 including
村居, 3.57 万条 信息目录) and its main complaint: some departments update shared data slowly.

Everything comes from one ``random.Random(seed)`` and the given ``today``; nothing reads the
clock, so the same seed and day always give the same district.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from catalog.demo import vocabulary as vocab
from catalog.directory import Directory, EntryRecord
from schemas.codes import make_uscc
from schemas.cycles import UpdateCycle, parse_update_cycle
from schemas.entry import DATA_TYPES, Organisation


class _Weighted:
    """A weighted choice drawn with one ``rng.random()``: random.choices is slow in a loop."""

    def __init__(self, weights: dict[str, int]):
        self.items = list(weights)
        self.cumulative = list(itertools.accumulate(weights.values()))

    def pick(self, rng: random.Random) -> str:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


TOTAL_ORGANISATIONS = 343
TOTAL_ENTRIES = 35_700
DEPARTMENT, STREET, VILLAGE = "区级部门", "街道/乡镇", "村居"
GROUP_ITEMS = {DEPARTMENT: "01", STREET: "02", VILLAGE: "03"}  # 项 of 类 3 部门信息资源
SOURCE = "demo"

BASE_OR_THEME_SHARE = 0.15  # entries filed under 类 1 基础 / 类 2 主题 instead of 类 3
NEVER_UPDATED_SHARE = 0.03
HISTORY_DAYS = 365
MAX_EVENTS = 12
FIRST_PUBLISHED = dt.date(2019, 1, 1)

LATE_DEPARTMENTS = ("住建局", "城市管理局", "水务局")
LATE_STREET_COUNT = 3
# Cycles a late body lets pass between two updates; on-time bodies always take one.
LATE_GAPS = (1, 1, 2, 2, 3)

# 更新周期 mix. 每3月 would normalise to 每季度, so the custom cycles are 每2日 and 每2月.
CYCLE_PICK = _Weighted(
    {
        "实时": 3,
        "每日": 10,
        "每周": 7,
        "每月": 30,
        "每季度": 15,
        "每半年": 5,
        "每年": 22,
        "不定期": 6,
        "每2日": 1,
        "每2月": 1,
    }
)
CYCLES = {label: parse_update_cycle(label) for label in CYCLE_PICK.items}
AUTOMATED_CYCLES = frozenset({"实时", "每日", "每2日"})  # fed by interfaces, not by hand
UNIT_SECONDS = {
    "hour": 3600,
    "day": 86_400,
    "week": 7 * 86_400,
    "month": 30 * 86_400,
    "year": 365 * 86_400,
}
SHARE_TYPES = _Weighted({"有条件共享": 55, "无条件共享": 35, "不予共享": 10})
OPEN_IF_UNCONDITIONAL = _Weighted({"无条件开放": 45, "有条件开放": 30, "不予开放": 25})
OPEN_IF_CONDITIONAL = _Weighted({"有条件开放": 35, "不予开放": 65})
MANUAL_FORMATS = _Weighted({"数据库": 45, "电子文件": 35, "接口": 20})
AUTOMATED_FORMATS = _Weighted({"数据库": 40, "接口": 60})
FORMATS = {category: (formats, method) for category, formats, method in vocab.FORMATS}


@dataclass
class District:
    """The generated district: organisations, entry field dicts and update events."""

    seed: int
    today: dt.date
    as_of: dt.datetime  # start of ``today``: every update event lies before it
    organisations: list[Organisation]
    entries: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    late_organisations: list[str] = field(default_factory=list)  # chronically late bodies


@dataclass
class _Org:
    """Generation state of one organisation."""

    model: Organisation
    kind: str
    index: int  # 目: position within its kind
    domain: str  # 业务领域, for 共享条件 texts
    subjects: list[tuple[str, str, str]]  # (subject, aspect family, category)
    place: str = ""  # 村居 entry names start with the village name
    sub_areas: list[str] = field(default_factory=list)  # name prefixes once plain names run out
    entries: int = 0
    late: bool = False


def period_seconds(cycle: UpdateCycle) -> int | None:
    """The cycle's nominal period (months as 30 days, years as 365), None when untracked."""
    if cycle.unit is None:
        return None
    assert cycle.every is not None, "a cycle with a unit always has a count (UpdateCycle)"
    return cycle.every * UNIT_SECONDS[cycle.unit]


# --- organisations -----------------------------------------------------------------------
def _parse_subjects(by_category: dict[str, str]) -> list[tuple[str, str, str]]:
    found = []
    for category, tokens in by_category.items():
        for token in tokens.split():
            subject, family = token.rsplit(":", 1)
            found.append((subject, family, category))
    return found


def _person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(vocab.GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(vocab.SURNAMES) + given


def _phone(rng: random.Random) -> str:
    return f"{vocab.PHONE_AREA}-{rng.randrange(80_000_000, 90_000_000)}"


def _organisations(rng: random.Random, today: dt.date) -> list[_Org]:
    org_numbers = rng.sample(range(10_000_000, 100_000_000), TOTAL_ORGANISATIONS)
    bodies = iter(f"{n:08d}" for n in org_numbers)
    # Year-split resources cover completed years since the catalogue began.
    last_year = max(today.year, FIRST_PUBLISHED.year + 1)
    years = [f"{y}年" for y in range(FIRST_PUBLISHED.year, last_year)]
    orgs: list[_Org] = []

    def add(kind: str, name: str, registration: str, mailbox: str, **extra: Any) -> _Org:
        parent = extra.pop("parent_code", None)
        model = Organisation(
            code=make_uscc(registration, vocab.REGION_CODE, next(bodies)),
            name=name,
            parent_code=parent,
            kind=kind,
            contact_name=_person_name(rng),
            contact_phone=_phone(rng),
            contact_email=f"{mailbox}@{vocab.EMAIL_DOMAIN}",
        )
        index = sum(1 for o in orgs if o.kind == kind) + 1
        org = _Org(model=model, kind=kind, index=index, **extra)
        orgs.append(org)
        return org

    street_names = [name for name, _ in vocab.STREETS]
    for short, mailbox, domain, count, subjects in vocab.DEPARTMENTS:
        # "11": 机构编制 registration, 机关 class.
        add(
            DEPARTMENT,
            vocab.DISTRICT + short,
            "11",
            mailbox,
            domain=domain,
            subjects=_parse_subjects(subjects),
            sub_areas=years + street_names,
            entries=count,
        )

    street_subjects = _parse_subjects(vocab.STREET_SUBJECTS)
    village_subjects = _parse_subjects(vocab.VILLAGE_SUBJECTS)
    community_extra = _parse_subjects(vocab.COMMUNITY_SUBJECTS)
    rural_extra = _parse_subjects(vocab.RURAL_SUBJECTS)
    community_names = iter(
        rng.sample(
            [w + s + "社区" for w in vocab.COMMUNITY_WORDS for s in vocab.COMMUNITY_SUFFIXES],
            len(vocab.COMMUNITY_WORDS) * len(vocab.COMMUNITY_SUFFIXES),
        )
    )
    rural_names = iter(
        rng.sample(
            [s + t + "村" for s in vocab.VILLAGE_SURNAMES for t in vocab.VILLAGE_SUFFIXES],
            len(vocab.VILLAGE_SURNAMES) * len(vocab.VILLAGE_SUFFIXES),
        )
    )
    villages_per_street = _split(
        rng, TOTAL_ORGANISATIONS - len(orgs) - len(vocab.STREETS), len(vocab.STREETS), low=15
    )
    grids = [f"第{n}网格" for n in "一二三四五六"]
    for (street_name, pinyin), villages in zip(vocab.STREETS, villages_per_street, strict=True):
        street = add(
            STREET,
            vocab.DISTRICT + street_name,
            "11",
            pinyin,
            domain="基层治理",
            subjects=street_subjects,
            sub_areas=list(years),
        )
        urban = street_name.endswith("街道")
        # 街道 are mostly 社区 with a few 城中村; 乡镇 mostly 村 with a 社区 at the seat.
        communities = villages - rng.randint(0, 3) if urban else rng.randint(1, 2)
        for k in range(villages):
            is_community = k < communities
            place = next(community_names) if is_community else next(rural_names)
            committee = "居委会" if is_community else "村委会"
            # "54": the 民政 prefix seen on 村(居)委会 codes; not confirmed by GB 32100's text.
            village = add(
                VILLAGE,
                f"{vocab.DISTRICT}{street_name}{place}{committee}",
                "54",
                f"{pinyin}{k + 1:02d}",
                parent_code=street.model.code,
                domain="社区服务",
                subjects=village_subjects + (community_extra if is_community else rural_extra),
                place=place,
                sub_areas=years + grids,
            )
            street.sub_areas.append(village.place)
    assert len(orgs) == TOTAL_ORGANISATIONS
    return orgs


def _split(rng: random.Random, total: int, parts: int, *, low: int) -> list[int]:
    """``parts`` integers of at least ``low`` summing to ``total``."""
    counts = [low] * parts
    for slot in rng.choices(range(parts), k=total - low * parts):
        counts[slot] += 1
    return counts


def _assign_entry_counts(rng: random.Random, orgs: list[_Org]) -> None:
    """村居 hold 20-60 entries, departments their listed counts, 街道/乡镇 the rest."""
    for org in orgs:
        if org.kind == VILLAGE:
            org.entries = round(rng.triangular(20, 60, 28))
    streets = [o for o in orgs if o.kind == STREET]
    remaining = TOTAL_ENTRIES - sum(o.entries for o in orgs)
    assert remaining >= 100 * len(streets), "department counts leave too little for 街道/乡镇"
    weights = [rng.uniform(0.7, 1.3) for _ in streets]
    shares = [remaining * w / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    # Largest remainder, so the total is exact.
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: remaining - sum(counts)]:
        counts[i] += 1
    for org, count in zip(streets, counts, strict=True):
        org.entries = count


def _mark_late(rng: random.Random, orgs: list[_Org]) -> None:
    streets = [o for o in orgs if o.kind == STREET]
    late_codes = {o.model.code for o in rng.sample(streets, LATE_STREET_COUNT)}
    for org in orgs:
        short = org.model.name.removeprefix(vocab.DISTRICT)
        org.late = (
            (org.kind == DEPARTMENT and short in LATE_DEPARTMENTS)
            or org.model.code in late_codes
            or org.model.parent_code in late_codes
        )


# --- entry names and fields ----------------------------------------------------------------
def _names(rng: random.Random, org: _Org) -> list[tuple[str, tuple[str, str, str]]]:
    """``org.entries`` names, distinct while the vocabulary allows.

    Plain ``subject + aspect`` names come first; then ones prefixed by a year, a 街道 or a
    村居 / 网格, as real catalogues split big resources by year and area.
    """
    pairs = [(subject, aspect) for subject in org.subjects for aspect in vocab.ASPECTS[subject[1]]]
    chosen: dict[str, tuple[str, str, str]] = {}  # name -> subject; two subjects can collide
    for prefixes in ([""], org.sub_areas):
        need = org.entries - len(chosen)
        size = len(prefixes) * len(pairs)
        if need <= 0 or size == 0:
            break
        for k in rng.sample(range(size), min(2 * need, size)):  # spare draws for collisions
            (subject, aspect), prefix = pairs[k % len(pairs)], prefixes[k // len(pairs)]
            chosen.setdefault(f"{org.place}{prefix}{subject[0]}{aspect}", subject)
            if len(chosen) == org.entries:
                break
    names = list(chosen.items())
    while len(names) < org.entries:  # vocabulary exhausted: repeat a name
        names.append(rng.choice(names))
    rng.shuffle(names)
    return names


def _parse_items(spec: str) -> list[dict[str, Any]]:
    items = []
    for token in spec.split():
        name, kind = token.rsplit(":", 1)
        length = int(kind[1:]) if len(kind) > 1 else None
        items.append({"name": name, "data_type": DATA_TYPES[kind[0]], "length": length})
    return items


FAMILY_ITEMS = {family: _parse_items(spec) for family, spec in vocab.FAMILY_ITEMS.items()}
CATEGORY_ITEMS = {name: _parse_items(spec) for name, spec in vocab.CATEGORY_ITEMS.items()}
TIMESTAMP_ITEMS = _parse_items(" ".join(vocab.TIMESTAMP_ITEMS))


def _data_items(rng: random.Random, family: str, category: str) -> list[dict[str, Any]]:
    """3-12 信息项: the family's two key items (姓名, 身份证号 …), then some of the rest."""
    own, extra = FAMILY_ITEMS[family], CATEGORY_ITEMS[category]
    keep = rng.uniform(0.2, 0.65)  # one draw per item: cheaper than rng.sample in this loop
    picked = [item for item in own[2:] + extra if rng.random() < keep][:10] or [extra[0]]
    items = own[:2] + picked
    if len(items) < 12 and rng.random() < 0.3:
        items.append(rng.choice(TIMESTAMP_ITEMS))
    return [dict(item) for item in items]


def _sharing(rng: random.Random, org: _Org, family: str, cycle: str) -> dict[str, Any]:
    share_type = SHARE_TYPES.pick(rng)
    # Frequently updated resources are fed through interfaces.
    category = (AUTOMATED_FORMATS if cycle in AUTOMATED_CYCLES else MANUAL_FORMATS).pick(rng)
    formats, method = FORMATS[category]
    if share_type == "不予共享" or family == "人":
        open_type = "不予开放"  # personal data is never opened to the public
    elif share_type == "无条件共享":
        open_type = OPEN_IF_UNCONDITIONAL.pick(rng)
    else:
        open_type = OPEN_IF_CONDITIONAL.pick(rng)
    condition = None
    if share_type == "有条件共享":
        condition = rng.choice(vocab.SHARE_CONDITIONS).format(domain=org.domain, org=org.model.name)
    return {
        "format_category": category,
        "formats": list(rng.choice(formats)),
        "share_type": share_type,
        "share_condition": condition,
        "share_method": None if share_type == "不予共享" else method,
        "open_type": open_type,
    }


def _summary(
    rng: random.Random, org: _Org, name: str, family: str, items: list[dict[str, Any]], cycle: str
) -> str:
    purpose = vocab.FAMILY_PURPOSE[family].format(domain=org.domain)
    listed = "、".join(item["name"] for item in items[:3])
    return (
        f"{org.model.name}{rng.choice(vocab.SUMMARY_VERBS)}{name}，{purpose}，"
        f"包括{listed}等{len(items)}个信息项，{cycle}更新。"
    )


# --- update history ---------------------------------------------------------------------
# Times are whole seconds before ``as_of`` (midnight starting ``today``), formatted once at the
# end: datetime arithmetic per event would dominate the generator's run time.
DAY = 86_400


def _update_ages(
    rng: random.Random, period: int | None, late: bool, published_age: int
) -> list[int]:
    """Ages (seconds before ``as_of``) of the entry's data updates, newest first.

    On-time bodies update once per cycle with a little jitter; a late body is 1-3 cycles
    behind now (80% of its entries) and skips cycles between updates. Only the newest update
    may fall outside the ~12-month window; none precedes publication.
    """
    window = min(published_age, HISTORY_DAYS * DAY)
    if period is None:  # 不定期: a few updates at random office-hour moments
        count = rng.randint(1, 3)
        picks = {_office_hours(rng, 1 + int(rng.random() * window)) for _ in range(count)}
        return sorted(picks)
    behind = late and rng.random() < 0.8
    slipped = not late and rng.random() < 0.04  # even punctual bodies miss one now and then
    lag = rng.choice((1, 1, 2, 3)) if behind else 1 if slipped else 0
    age = (lag + rng.uniform(0.2 if lag else 0.05, 0.85)) * period
    ages: list[int] = []
    while len(ages) < MAX_EVENTS and (age <= window or (not ages and age <= published_age)):
        ages.append(int(age))
        gap = rng.choice(LATE_GAPS) if late else 1
        age += gap * period * (1 + rng.uniform(-0.08, 0.08))
    if not ages:  # published after its first due update: the initial load is the update
        ages.append(published_age - 10 * 3600)
    if period >= UNIT_SECONDS["week"]:  # uploaded by hand: during office hours, same day
        ages = [_office_hours(rng, a) for a in ages]
    return ages


def _office_hours(rng: random.Random, age: int) -> int:
    """The same calendar day as ``age``, at a moment between 08:30 and 17:30."""
    days = -(-age // DAY)
    return days * DAY - 30_600 - int(rng.random() * 32_400)


class _Clock:
    """Formats ages as ISO local datetimes, caching the date part."""

    def __init__(self, as_of: dt.datetime):
        self.today = as_of.date()
        self._dates: dict[int, str] = {}

    def iso(self, age: int) -> str:
        days = -(-age // DAY)
        date = self._dates.get(days)
        if date is None:
            date = self._dates[days] = (self.today - dt.timedelta(days=days)).isoformat()
        clock = days * DAY - age
        return f"{date}T{clock // 3600:02d}:{clock % 3600 // 60:02d}:{clock % 60:02d}"


def _events(
    code: str, ages: list[int], cycle: UpdateCycle, org: _Org, clock: _Clock
) -> list[dict[str, Any]]:
    """Update events (oldest first) with a note saying whether each came on time."""
    period = period_seconds(cycle)
    automated = cycle.label in AUTOMATED_CYCLES
    reporter = "数据共享交换平台" if automated else org.model.contact_name
    events = []
    previous = None
    for age in reversed(ages):
        if period is None:
            note = "不定期更新"
        elif previous is None or previous - age <= 1.5 * period:
            note = "接口自动同步" if automated else "按期更新"
        else:
            note = f"逾期更新，漏报{round((previous - age) / period) - 1}期"
        events.append(
            {
                "code": code,
                "updated_at": clock.iso(age),
                "source": SOURCE,
                "reported_by": reporter,
                "note": note,
            }
        )
        previous = age
    return events


# --- the district -------------------------------------------------------------------------
@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: the generator allocates ~600k acyclic containers, and the collector
    re-scanning them took a third of the run time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate_district(seed: int = 2024, *, today: dt.date) -> District:
    """Build the demo district for ``seed`` as seen on ``today`` (no clock, no global random)."""
    with _gc_paused():
        return _generate(seed, today)


def _generate(seed: int, today: dt.date) -> District:
    rng = random.Random(seed)
    as_of = dt.datetime.combine(today, dt.time())
    orgs = _organisations(rng, today)
    _assign_entry_counts(rng, orgs)
    _mark_late(rng, orgs)
    clock = _Clock(as_of)
    last_publish = max(FIRST_PUBLISHED, today - dt.timedelta(days=14))
    publish_span = (last_publish - FIRST_PUBLISHED).days
    sequences: dict[str, int] = {}
    entries: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for org in orgs:
        own_class = "3" + GROUP_ITEMS[org.kind] + f"{org.index:03d}"
        for name, (_subject, family, category) in _names(rng, org):
            if rng.random() < BASE_OR_THEME_SHARE:
                classification = vocab.CATEGORY_CODES[category] + "001"
            else:
                classification = own_class
            sequences[classification] = sequences.get(classification, 0) + 1
            code = f"{classification}/{sequences[classification]:06d}"
            label = CYCLE_PICK.pick(rng)
            cycle = CYCLES[label]
            items = _data_items(rng, family, category)
            # Most catalogues were compiled in the 2019-2021 campaigns: skew early.
            days_early = publish_span - int(publish_span * rng.random() ** 1.6)
            published = last_publish - dt.timedelta(days=days_early)
            updated_at = None
            if rng.random() >= NEVER_UPDATED_SHARE:
                ages = _update_ages(
                    rng, period_seconds(cycle), org.late, (today - published).days * DAY
                )
                updated_at = clock.iso(ages[0])
                updates.extend(_events(code, ages, cycle, org, clock))
            entries.append(
                {
                    "code": code,
                    "name": name,
                    "category_name": category,
                    "provider_name": org.model.name,
                    "provider_code": org.model.code,
                    "summary": _summary(rng, org, name, family, items, label),
                    "data_items": items,
                    **_sharing(rng, org, family, label),
                    "update_cycle": label,
                    "published_at": published.isoformat(),
                    "updated_at": updated_at,
                }
            )
    return District(
        seed=seed,
        today=today,
        as_of=as_of,
        organisations=[o.model for o in orgs],
        entries=entries,
        updates=updates,
        late_organisations=[o.model.code for o in orgs if o.late],
    )


def build_demo(
    directory: Directory,
    *,
    seed: int = 2024,
    today: dt.date | None = None,
    district: District | None = None,
) -> dict:
    """Load the demo district into ``directory``; running it again changes nothing.

    Returns ``{organisations, entries, updates}``: the district's organisations and the demo
    entries and demo update events now stored.
    """
    district = district or generate_district(seed, today=today or dt.date.today())
    store = directory.store
    existing = store.entries.codes()
    directory.add_organisations(district.organisations)
    result = directory.apply(
        (
            EntryRecord(fields, row=i, source_key=f"{SOURCE}:{fields['code']}")
            for i, fields in enumerate(district.entries, 1)
        ),
        source=SOURCE,
        update_source=None,
    )  # the generated events below carry their own metadata
    if result.errors:
        first = result.errors[0]
        raise ValueError(
            f"demo entries rejected ({len(result.errors)} errors), first: "
            f"row {first.row} {first.field}: {first.reason}"
        )
    # Update events only for entries this run created: re-runs must not duplicate them.
    events = [
        {**event, "recorded_at": event["updated_at"]}
        for event in district.updates
        if event["code"] not in existing
    ]
    store.history.add_updates(events)
    return {
        "organisations": len(district.organisations),
        "entries": store.entries.count(status=None, source=SOURCE),
        "updates": store.history.count_updates(source=SOURCE),
    }
