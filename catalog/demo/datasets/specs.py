"""Writing a demo dataset's spec (数据集说明) next to its files, with the severity each
department's data steward chose, and checking it loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from catalog.demo.datasets.build import TODAY, Build, DemoDataset
from catalog.demo.datasets.defects import Defects
from schemas.dataset_spec import load_spec


def C(name: str, source: str, kind: str = "string", **rules: Any) -> dict[str, Any]:
    """One spec column (``kind`` is its type); short, as the specs list over a hundred."""
    return {"name": name, "source": source} | ({"type": kind} if kind != "string" else {}) | rules


def dump_spec(spec: dict[str, Any]) -> str:
    """YAML with one flow-style line per column, like docs/examples/dataset-spec.yaml."""

    def dump(data: Any, flow: bool = False) -> str:
        return yaml.safe_dump(
            data, allow_unicode=True, sort_keys=False, width=10_000, default_flow_style=flow
        )

    keys = list(spec)
    at = keys.index("columns")
    columns = "".join(f"  - {dump(c, True).strip()}\n" for c in spec["columns"])
    return (
        dump({k: spec[k] for k in keys[:at]})
        + "columns:\n"
        + columns
        + dump({k: spec[k] for k in keys[at + 1 :]})
    )


# How each department's data steward grades the generated rules (spec `severity`): defects in
# contact details, sensor glitches and free-text registers are reported (warning); wrong
# 身份证号 / 统一社会信用代码, out-of-range allowances and repeated settlements block the load
# (the default, error). So the demo has published, flagged and blocked loads.
DEMO_SEVERITY: dict[str, dict[str, str]] = {
    "social_security_card_applications": {
        "mobile:format": "warning",
        "applied_on:range": "warning",
    },
    "medical_institutions": {"beds:range": "warning", "uscc:format": "warning"},
    "service_evaluations": {"rating:allowed_values": "warning"},
    "farm_sensor_readings": {"soil_moisture:range": "warning"},
    "contactless_enforcement_cases": {"case_source:nullable": "warning"},
    "service_station_errands": {"village:allowed_values": "warning"},
}


def finish(
    b: Build,
    org,
    entry_pick,
    d: Defects,
    *,
    name: str,
    title: str,
    description: str,
    files: list[Path],
    rows: int,
    columns: list[dict[str, Any]],
    source: dict[str, Any],
    key: list[str],
    mode: str,
    checks=None,
) -> DemoDataset:
    entry, fallback = entry_pick
    # Relative to the workspace (sources/<org>/…), as loads resolve it: a copied workspace's
    # specs read its own files, and the sources lie in its source folder.
    url = Path(source["url"])
    if url.is_absolute() and url.is_relative_to(b.workspace.root):
        source = {**source, "url": url.relative_to(b.workspace.root).as_posix()}
    for column in columns:
        column.update({k: b.today for k, v in column.items() if v == TODAY})
    spec = {
        "name": name,
        "title": title,
        "description": description,
        "entry_code": entry["code"],
        "provider": org.name,
        "source": source,
        "columns": columns,
        "primary_key": key,
        "load": {"mode": mode},
    }
    if checks:
        spec["checks"] = checks
    if name in DEMO_SEVERITY:
        spec["severity"] = DEMO_SEVERITY[name]
    path = b.workspace.datasets_dir / org.code / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# {title}: demo dataset of {org.name} for 信息资源 {entry['code']} "
        f"{entry['name']}.\n# Written by catalog.demo.datasets (seed {b.seed}, scale "
        f"{b.scale}).\n" + dump_spec(spec),
        encoding="utf-8",
    )
    load_spec(path)  # an invalid spec fails the run here, naming the file and key
    return DemoDataset(
        name=name,
        title=title,
        org_code=org.code,
        entry_code=entry["code"],
        spec_path=path,
        files=files,
        rows=rows,
        defects=d.texts,
        defect_counts=d.counts,
        entry_name=entry["name"],
        entry_fallback=fallback,
        today=b.today,
    )


def row_count_check(expected: int) -> dict[str, Any]:
    return {
        "expectation": "expect_table_row_count_to_equal",
        "value": expected,
        "severity": "warning",
    }
