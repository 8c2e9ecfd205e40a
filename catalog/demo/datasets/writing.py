"""Writing all twelve demo datasets, in a fixed order: each builder's random numbers come from
``(seed, its place in BUILDERS)``, and later builders reuse earlier results (firms, penalties,
institutions)."""

from __future__ import annotations

from pathlib import Path

from catalog.demo.datasets import values as dv
from catalog.demo.datasets.build import Build, DemoDataset
from catalog.demo.datasets.dibao import dibao
from catalog.demo.datasets.enforcement import contactless_cases
from catalog.demo.datasets.farm_sensors import farm_sensors
from catalog.demo.datasets.government_services import (
    evaluations,
    mobile_hall_items,
    service_station_errands,
)
from catalog.demo.datasets.health import medical_institutions, settlements
from catalog.demo.datasets.market import credit_repairs, enterprises, penalties
from catalog.demo.datasets.social_security import social_security_cards
from catalog.demo.district import District

BUILDERS = (
    social_security_cards,
    dibao,
    medical_institutions,
    enterprises,
    penalties,
    evaluations,
    farm_sensors,
    mobile_hall_items,
    contactless_cases,
    credit_repairs,
    service_station_errands,
    settlements,
)


def write_demo_datasets(
    root: Path, district: District, *, seed: int = 2024, scale: float = 1.0
) -> list[DemoDataset]:
    """Write every demo dataset's source files and spec under ``root`` (see the module doc).

    ``scale`` multiplies the big row counts (社保卡 1,000,000, 企业 50,000, 好差评 70,000, 低保
    8,000, 医保结算 3 × 40,000, sensor days 30); counts the summary fixes (142, 97, 153, 1,259)
    and the small registers stay as they are.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, not {scale}")
    build = Build(Path(root).resolve(), district, seed, scale)
    return [builder(build, dv.generator(seed, key)) for key, builder in enumerate(BUILDERS, 1)]
