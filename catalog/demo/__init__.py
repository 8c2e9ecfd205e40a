"""Demo data: a deterministic fictional district (示范区) to try Mulu on realistic volumes."""

from catalog.demo.datasets import DemoDataset, write_demo_datasets, write_next_version
from catalog.demo.district import District, build_demo, generate_district

__all__ = [
    "DemoDataset",
    "District",
    "build_demo",
    "generate_district",
    "write_demo_datasets",
    "write_next_version",
]
