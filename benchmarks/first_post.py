"""Measurement 7: seconds from `make run` on a fresh checkout (no .venv) to the demo's first post.

The tracked files are copied to a temporary folder (a fresh clone, without its .venv), `make run`
starts there, and the clock stops when the first post block ("[twitter] dry_run ...") reaches
stdout; then the worker is stopped. pip's cache is whatever this machine has: run it twice for the
warm-cache figure (the first run of a day may download wheels). Not part of `benchmarks.run`: it
creates a virtual environment, which takes most of the time.

`python -m benchmarks.first_post [--runs N]`
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 15.0


def checkout(into: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        target = into / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode)


def first_post(timeout: float = 300.0) -> dict[str, float | str]:
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        tempfile.TemporaryFile("w+") as errors_file,
    ):
        tmp = Path(tmp_name)
        checkout(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FEED_", "DATABASE_"))}
        started = time.perf_counter()
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors_file,  # a file, not a pipe: pip's warnings must never block make
            text=True,
            start_new_session=True,
        )
        assert proc.stdout is not None
        seen = "none"
        try:
            for line in proc.stdout:
                if line.startswith("[") and "dry_run" in line:
                    seen = line.strip()
                    break
                if time.perf_counter() - started > timeout:
                    break
            elapsed = time.perf_counter() - started
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        errors_file.seek(0)
        errors = errors_file.read()
    if seen == "none":  # say why: the last lines make (or the demo) wrote
        seen = "none; stderr: " + " | ".join(errors.strip().splitlines()[-3:])
    return {"seconds": elapsed, "first_line": seen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.first_post", description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    ns = parser.parse_args(argv)
    for run in range(1, ns.runs + 1):
        result = first_post()
        # No post: make failed, or the demo posted nothing before the timeout.
        posted = not str(result["first_line"]).startswith("none")
        verdict = "PASS" if posted and float(result["seconds"]) < TARGET_S else "FAIL"
        print(
            f"run {run}: first post {result['seconds']:.1f} s after `make run` "
            f"(target < {TARGET_S:g} s: {verdict}): {result['first_line']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
