"""Department datasets for the demo district: the files departments deliver, one spec each.

``write_demo_datasets`` writes twelve source files (CSV in UTF-8, UTF-8 with BOM and GBK, Excel,
JSON, NDJSON, Parquet) under ``<root>/sources/<org_code>/`` and a dataset spec for each under
``<root>/datasets/<org_code>/<name>.yaml``, tied to a catalogue entry of its department. Volumes
follow the district office's 2024 summary (142 医疗机构, 97 行政处罚决定书 totalling 969.1 万元,
1,259 非接触式执法案件, 25 农业物联监测点位, 153 掌上大厅高频事项, 7 万余条好差评). Most datasets
carry realistic defects that a suite built from the spec catches; ``DemoDataset.defect_counts``
says how many rows break which rule (``column:rule``, rule = unique, nullable, format,
allowed_values, min or max).

Values come from numpy Generators seeded with ``(seed, dataset)`` and from ``district.today``:
the same seed, district and scale give byte-identical files.

    build.py          the run's shared state and the DemoDataset each builder returns
    defects.py        planting defects, counted per spec rule
    files.py          CSV and Excel as departments export them
    specs.py          each dataset's spec, with its department's severity choices
    values.py         word lists and vectorised value generators
    social_security.py, dibao.py, health.py, market.py, government_services.py,
    farm_sensors.py, enforcement.py
                      the twelve builders, grouped by department
    writing.py        write_demo_datasets: every builder, in order
    next_versions.py  write_next_version: a department's next delivery
"""

from catalog.demo.datasets.build import DemoDataset
from catalog.demo.datasets.next_versions import NEXT_VERSIONS, write_next_version
from catalog.demo.datasets.specs import DEMO_SEVERITY
from catalog.demo.datasets.writing import BUILDERS, write_demo_datasets

__all__ = [
    "BUILDERS",
    "DEMO_SEVERITY",
    "NEXT_VERSIONS",
    "DemoDataset",
    "write_demo_datasets",
    "write_next_version",
]
