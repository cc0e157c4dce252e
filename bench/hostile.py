"""Benchmark: peak memory and time of the command line on hostile files (issue #16, hostile input).

Each case runs ``python -m rodnan ...`` as a separate process on a file written here (a YAML "billion
laughs", nesting 100,000 deep, binary files, JSON ``NaN``, files over the size caps, a CSV column in an
unusable unit, ...). The child's own peak resident memory comes from ``os.wait4`` (its ``ru_maxrss``),
so each case is measured alone. Every child runs with an address-space limit (``--limit-mb``, default
2,000 MB) and a time limit (``--timeout``, default 120 s), so that a regression fails the case instead
of the machine; the protocol cache is off (``RODNAN_PROTOCOL_CACHE=off``), so each protocol is parsed.

Target (issue #16): every case under 500 MB, with exit code 0, 1 or 2 and no traceback. The first row,
the bundled protocol, is the baseline of an ordinary run. Usage: ``python bench/hostile.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rodnan.core.protocol import bundled_protocol_path

TARGET_MB = 500


def laughs(levels: int = 9, width: int = 10) -> str:
    """The classic "billion laughs": 10 strings, then 9 anchors each a list of 10 aliases of the one before."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def write_cases(folder: Path) -> list[tuple[str, list[str]]]:
    """Write the hostile files into ``folder``; returns (case, rodnan arguments) pairs."""

    def put(name: str, data: bytes | str) -> str:
        path = folder / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(path)

    noise = os.urandom(1 << 20)
    flat = "- [1,2,3,4,5,6,7,8,9]\n" * 22_000  # 484 kB, under the cap; 220,001 nodes
    huge_json = b"[" + b"1," * (100 << 20) + b"0]"
    candidates = "subject_id,mrss,hemoglobin [kg]\n" + "".join(f"S{i},{i % 60 - 5},12\n" for i in range(1000))
    return [
        ("protocol check: the bundled protocol (baseline)", ["protocol", "check", str(bundled_protocol_path())]),
        ("protocol check: billion laughs (10^9 once expanded)", ["protocol", "check", put("laughs.yaml", laughs())]),
        ("protocol check: recursive alias", ["protocol", "check", put("recursive.yaml", "a: &a [1, *a]\n")]),
        ("protocol check: nested 200,000 deep", ["protocol", "check", put("deep.yaml", "a: " + "[" * 200_000 + "]" * 200_000)]),
        ("protocol check: 400 kB of random bytes", ["protocol", "check", put("binary.yaml", noise[:400_000])]),
        ("protocol check: 484 kB of YAML without aliases", ["protocol", "check", put("flat.yaml", flat)]),
        ("protocol check: 200 MB file (over the cap)", ["protocol", "check", put("huge.yaml", b"#" * (200 << 20))]),
        ("calc: 1 MB of random bytes", ["calc", "cockcroft_gault", "-i", put("binary.json", noise)]),
        ("calc: JSON nested 100,000 deep", ["calc", "cockcroft_gault", "-i", put("deep.json", "[" * 100_000 + "]" * 100_000)]),
        ("calc: JSON NaN", ["calc", "cockcroft_gault", "-i", put("nan.json", '{"age": NaN, "weight": 72}')]),
        ("calc: 200 MB JSON (over the cap)", ["calc", "cockcroft_gault", "-i", put("huge.json", huge_json)]),
        ("screen: 1 MB of random bytes", ["screen", put("binary.csv", noise), "-f", "csv"]),
        ("screen: a column in an unusable unit", ["screen", put("unit.csv", candidates), "-f", "csv"]),
        ("screen --strict: the same file", ["screen", put("unit2.csv", candidates), "-f", "csv", "--strict"]),
    ]


def run_case(arguments: list[str], limit_mb: int, timeout: float) -> tuple[int, float, float, str]:
    """Run ``python -m rodnan ARGUMENTS``; returns (exit code, seconds, peak RSS in MB, first stderr line)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))

    env = {**os.environ, "RODNAN_PROTOCOL_CACHE": "off"}
    began = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "rodnan", *arguments], stdout=subprocess.DEVNULL, stderr=err, env=env, preexec_fn=limit
        )
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
        timer.cancel()
        code = child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - began
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    lines = text.strip().splitlines() or [""]
    shown = " ".join(lines[:2]) if lines[0].endswith("problem(s)") else lines[0]  # with the protocol's first problem
    first = "TRACEBACK" if "Traceback" in text else shown
    return code, seconds, usage.ru_maxrss / 1024, first


def main() -> None:
    """Run every case and print a table; exit 1 when a case misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mb", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="rodnan-hostile-") as folder:
        print(f"{'case':52} {'exit':>4} {'s':>6} {'peak MB':>8}  first line of stderr")
        for name, arguments in write_cases(Path(folder)):
            code, seconds, peak, first = run_case(arguments, args.limit_mb, args.timeout)
            ok = code in (0, 1, 2) and peak < TARGET_MB and first != "TRACEBACK"
            failed += not ok
            print(f"{name:52} {code:>4} {seconds:>6.1f} {peak:>8.0f}  {'' if ok else 'MISSED: '}{first[:150]}")
    print(f"target: exit 0/1/2, no traceback, peak RSS < {TARGET_MB} MB each: {'met' if not failed else f'{failed} missed'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
