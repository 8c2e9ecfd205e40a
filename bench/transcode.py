"""Transcoding benchmark: a generated GBK CSV (城乡低保对象-like rows) to UTF-8.

Side by side, each in a fresh process (wall time, peak RSS):
- ``mulu transcode``: ``warehouse.transcode.transcode_to_utf8`` (streaming, strict, 1 MiB chunks,
  fsync before the rename: the other two do not sync, which costs it ~0.1 s per 100 MiB).
- ``read whole file``: ``read_bytes().decode().encode()``, what streaming avoids: peak memory
  grows with the file.
- ``iconv`` (the floor, if installed): ``iconv -f GB18030 -t UTF-8``; its peak is the child's.

Every output is checked byte-identical to the others. Run:
``python -m bench.transcode --rows 1000000``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import platform
import shutil
import tempfile
from pathlib import Path

from bench.measure import measure

SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "秀英", "建国", "丽", "淑珍", "浩然", "志强", "桂兰", "晓东", "玉梅", "子涵", "德华"]
PLACES = ["城关镇幸福社区", "东城街道光明里", "西山乡杨柳村", "南湖街道月亮湾小区", "北岭镇石桥村"]
HEADER = [
    "序号",
    "乡镇(街道)",
    "姓名",
    "身份证号",
    "性别",
    "家庭人口",
    "保障类别",
    "月保障金额(元)",
    "家庭住址",
    "审批日期",
]


def write_gbk_csv(path: Path, rows: int) -> None:
    """``rows`` data rows of GBK text, written as they are made (no list of all rows)."""
    start = dt.date(2013, 6, 10)
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")  # what Excel on Windows writes
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            place = PLACES[n % 5]
            writer.writerow(
                (
                    n,
                    place[:3],
                    SURNAMES[n % 20] + GIVEN[n * 7 % 12],
                    f"3401{n % 100:02d}19{n % 90 + 10:02d}0307{n % 10000:04d}",
                    "男女"[n % 2],
                    1 + n % 6,
                    ("城市低保", "农村低保")[n % 2],
                    f"{600 + n % 500}.{n % 100:02d}",
                    f"{place}{n % 300}号",
                    (start + dt.timedelta(days=n % 4000)).isoformat(),
                )
            )


MULU_SETUP = "from pathlib import Path\nfrom warehouse.transcode import transcode_to_utf8"
MULU_STEP = "result = transcode_to_utf8(Path({src!r}), Path({dst!r}), 'gbk').bytes_out"
WHOLE_SETUP = "from pathlib import Path"
WHOLE_STEP = """
data = Path({src!r}).read_bytes().decode('gb18030').encode('utf-8')
Path({dst!r}).write_bytes(data)
result = len(data)
"""
ICONV_SETUP = "import resource, subprocess"
ICONV_STEP = """
with open({dst!r}, 'wb') as out:
    subprocess.run(['iconv', '-f', 'GB18030', '-t', 'UTF-8', {src!r}], stdout=out, check=True)
result = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
"""


def run(rows: int, runs: int) -> dict:
    # This process stays small on purpose: on Linux a child's ru_maxrss starts at its parent's
    # high-water mark (kept across fork and exec), so a big parent would inflate every peak.
    scratch = Path(tempfile.mkdtemp(prefix="mulu-bench-transcode-"))
    try:
        src = scratch / "dibao-gbk.csv"
        write_gbk_csv(src, rows)
        methods = {
            "mulu transcode": (MULU_SETUP, MULU_STEP),
            "read whole file": (WHOLE_SETUP, WHOLE_STEP),
        }
        if shutil.which("iconv"):
            methods["iconv (floor)"] = (ICONV_SETUP, ICONV_STEP)
        results, digests = {}, set()
        for label, (setup, step) in methods.items():
            dst = scratch / f"{label.split()[0]}.utf8.csv"
            best = min(
                (measure(setup, step.format(src=str(src), dst=str(dst))) for _ in range(runs)),
                key=lambda r: r["seconds"],
            )
            if label.startswith("iconv"):
                best["peak_mib"] = best["result"]  # the child's peak, not the runner's
            results[label] = best
            with dst.open("rb") as handle:
                digests.add(hashlib.file_digest(handle, "sha256").hexdigest())
            dst.unlink()
        assert len(digests) == 1, "outputs differ"
        runner = measure(MULU_SETUP, "result = 0")["peak_mib"]
        return {
            "rows": rows,
            "mib": src.stat().st_size / 2**20,
            "results": results,
            "runner_mib": runner,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def markdown(report: dict) -> str:
    lines = [
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{dt.date.today().isoformat()}. {report['rows']:,} rows, {report['mib']:.1f} MiB GBK; "
        f"best of the runs; MiB/s of input. Peak of the Python runner doing nothing: "
        f"{report['runner_mib']:.0f} MiB.",
        "",
        "| method | s | MiB/s | peak MiB |",
        "|---|---:|---:|---:|",
    ]
    for label, result in report["results"].items():
        lines.append(
            f"| {label} | {result['seconds']:.2f} | "
            f"{report['mib'] / result['seconds']:.0f} | {result['peak_mib']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(markdown(run(args.rows, args.runs)))


if __name__ == "__main__":
    main()
