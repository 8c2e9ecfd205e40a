"""Catalogue benchmark: `mulu catalog import` of a large JSON export (100k and 1M records).

The file is a Chinese portal's export (the shape of Suzhou's open-data catalogue: a top-level
list of objects with 标题, 来源部门, 描述, 更新频率, 发布时间, 数据格式 …), its 524 real records
repeated with a numbered 标题 and url so that every record is distinct; ``--shape dcat`` writes
a DCAT-US ``data.json`` instead (GSA's 339 datasets repeated under ``dataset`` with numbered
identifiers and titles).

Side by side for each size, each run a fresh workspace and a fresh process:
- ``mulu``: ``mulu catalog import FILE --json`` with today's code (streamed reading).
- ``baseline`` (with ``--baseline REV``): the same command as of git revision REV, from a
  temporary worktree, its runs alternating with today's so that both see the same machine.

Measured: wall time of the command, and its peak RSS (``ru_maxrss`` of that child alone, from
``os.wait4``). A second table times the reading alone, each in a fresh process
(``bench.measure``): today's ``read_document(...).records(...)`` (streamed, every record's raw
text written back and checked for bad characters) against ``json.load`` of the whole file (what
the reader did before issue 12). Run:
``python -m bench.catalog_json --sizes 100000 1000000 --baseline REV``. Prints Markdown tables
for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import measure

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real"

# Runs the mulu command from the code at argv[1] ("" = the installed, current code).
_CLI = """
import sys
code = sys.argv.pop(1)
if code:
    sys.path.insert(0, code)  # the baseline's packages before the installed ones
from mulu.cli import main
sys.argv[0] = "mulu"
main()
"""


def write_portal_export(path: Path, size: int) -> None:
    """A top-level JSON list of ``size`` portal records, written as the portal does (UTF-8,
    one line, ``ensure_ascii=False``)."""
    source = json.loads((REAL / "cn-portals" / "anhui_suzhou.json").read_text(encoding="utf-8"))
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for n in range(size):
            record = dict(source[n % len(source)])
            record["标题"] = f"{record['标题']}（{n:07d}）"
            record["url"] = f"{record['url']}-{n}"
            out.write(("," if n else "") + json.dumps(record, ensure_ascii=False))
        out.write("]")


def write_data_json(path: Path, size: int) -> None:
    """A DCAT-US catalog with ``size`` datasets under ``dataset``, pretty-printed as agencies
    publish it."""
    catalog = json.loads((REAL / "dcat-us" / "gsa.json").read_text(encoding="utf-8"))
    datasets = catalog.pop("dataset")
    with path.open("w", encoding="utf-8") as out:
        head = json.dumps(catalog, ensure_ascii=False, indent=4)
        out.write(head[: head.rindex("}")].rstrip() + ',\n    "dataset": [\n')
        for n in range(size):
            dataset = dict(datasets[n % len(datasets)])
            dataset["identifier"] = f"{dataset.get('identifier', 'gsa')}-{n}"
            dataset["title"] = f"{dataset['title']} ({n})"
            text = json.dumps(dataset, ensure_ascii=False, indent=4)
            out.write(("," if n else "") + "\n        " + text.replace("\n", "\n        "))
        out.write("\n    ]\n}\n")


SHAPES = {"portal": write_portal_export, "dcat": write_data_json}


def import_once(source: Path, scratch: Path, code: str) -> dict:
    """One ``mulu catalog import`` into a new workspace: seconds, peak MiB, the report."""
    home = tempfile.mkdtemp(dir=scratch)
    command = [sys.executable, "-c", _CLI, code, "--home", home, "catalog", "import"]
    command += [str(source), "--json"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    shutil.rmtree(home, ignore_errors=True)
    if process.returncode not in (0, 3):  # 3: some records rejected (reported, counted)
        raise RuntimeError(f"import failed ({process.returncode}):\n{stderr[-3000:]}")
    report = json.loads(stdout[stdout.index("{") :])
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "report": report}


READ_STREAMED = """
from catalog.importing.reading import read_document
document = read_document({path!r})
result = sum(1 for _ in document.records(document.record_paths()[0]))
"""
READ_WHOLE = """
import json
with open({path!r}, "rb") as handle:
    value = json.load(handle)
result = len(value if isinstance(value, list) else value["dataset"])
"""


# json.load of a file holds about 5 times its size: past this it is not run (the machine is
# shared, 24 GiB).
WHOLE_READ_MAX = 1 << 30


def read_only(source: Path) -> dict:
    """Reading alone, streamed and whole, each in a fresh process."""
    steps = {"streamed": READ_STREAMED}
    if source.stat().st_size <= WHOLE_READ_MAX:
        steps["json.load"] = READ_WHOLE
    return {name: measure("", step.format(path=str(source))) for name, step in steps.items()}


def run(sizes: list[int], runs: int, shape: str, baseline: str | None) -> list[dict]:
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="mulu-bench-json-"))
    worktree = ""
    try:
        if baseline:
            worktree = str(scratch / "baseline")
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", worktree, baseline],
                check=True,
            )
        for size in sizes:
            source = scratch / f"catalogue-{size}.json"
            SHAPES[shape](source, size)
            contenders = {"mulu": ""} | ({"baseline": worktree} if baseline else {})
            measured: dict[str, list[dict]] = {name: [] for name in contenders}
            for _ in range(runs):  # alternate, so that both see the same machine
                for name, code in contenders.items():
                    measured[name].append(import_once(source, scratch, code))
            row: dict = {"size": size, "file_mib": source.stat().st_size / 2**20}
            row["read"] = read_only(source)
            for name, results in measured.items():
                best = min(results, key=lambda r: r["seconds"])
                row[name] = {**best, "runs": [round(r["seconds"], 1) for r in results]}
            rows.append(row)
            source.unlink()
    finally:
        if baseline:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", worktree], check=False
            )
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def _landed(report: dict) -> str:
    created = report.get("created", 0) + report.get("updated", 0) + report.get("unchanged", 0)
    return f"{created:,} / {report.get('rejected', 0):,}"


def markdown(rows: list[dict], shape: str, baseline: str | None) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {dt.date.today().isoformat()}; shape: {shape}"
        + (f"; baseline {baseline}" if baseline else "")
        + ".",
        "",
        "| records | JSON MiB | mulu s | mulu peak MiB | mulu records/s | mulu landed / rejected "
        "| baseline s | baseline peak MiB | baseline landed / rejected | mulu / baseline time |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for row in rows:
        mulu, base = row["mulu"], row.get("baseline")
        base_cells = (
            f"{base['seconds']:.1f} | {base['peak_mib']:.0f} | {_landed(base['report'])} | "
            f"{mulu['seconds'] / base['seconds']:.2f}x"
            if base
            else "– | – | – | –"
        )
        lines.append(
            f"| {row['size']:,} | {row['file_mib']:.0f} | {mulu['seconds']:.1f} | "
            f"{mulu['peak_mib']:.0f} | {row['size'] / mulu['seconds']:,.0f} | "
            f"{_landed(mulu['report'])} | {base_cells} |"
        )
    lines += [
        "",
        "| records | streamed read s | streamed peak MiB | json.load s | json.load peak MiB |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        streamed, whole = row["read"]["streamed"], row["read"].get("json.load")
        whole_cells = f"{whole['seconds']:.1f} | {whole['peak_mib']:.0f}" if whole else "– | –"
        lines.append(
            f"| {row['size']:,} | {streamed['seconds']:.1f} | {streamed['peak_mib']:.0f} | "
            f"{whole_cells} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="portal")
    parser.add_argument(
        "--baseline", metavar="REV", help="also run Mulu as of this git revision, side by side"
    )
    args = parser.parse_args()
    rows = run(args.sizes, args.runs, args.shape, args.baseline)
    print(markdown(rows, args.shape, args.baseline))


if __name__ == "__main__":
    main()
