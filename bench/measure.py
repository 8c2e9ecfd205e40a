"""Run one measured step in a fresh Python process: wall time and peak RSS (VmHWM) of that
process.

A fresh process per step keeps one step's memory from hiding in another's peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_RUNNER = textwrap.dedent("""
    import json, sys, time
    namespace = {}
    exec(compile(sys.argv[1], "<setup>", "exec"), namespace)
    started = time.perf_counter()
    exec(compile(sys.argv[2], "<step>", "exec"), namespace)
    seconds = time.perf_counter() - started
    # VmHWM is this process's own peak RSS; ru_maxrss would carry the parent's peak across
    # fork and exec and overstate small steps.
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024,
                      "result": namespace.get("result")}))
""")


def measure(setup: str, step: str) -> dict:
    """Seconds and peak MiB for ``step`` (after ``setup``, whose time is not counted)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, textwrap.dedent(setup), textwrap.dedent(step)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
