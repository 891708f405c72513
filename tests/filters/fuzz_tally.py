"""Run the filter robustness properties (CI example counts) and print inputs and errors per entry point.

Usage: ``.venv/bin/python tests/filters/fuzz_tally.py [extra pytest args, e.g. --hypothesis-seed=1]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tally = Path(tmp) / "tally.json"
        env = {**os.environ, "CI": "1", "HYPOTHESIS_PROFILE": "ci", "FILTER_FUZZ_TALLY": str(tally)}
        test = Path(__file__).with_name("test_robustness.py")
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test), *argv], env=env)
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for name, n in json.loads(tally.read_text()).items():
            entry, result = name.rsplit(": ", 1)
            counts[entry][result] = n
    print(f"{'entry point':22s} {'inputs':>6s}  outcomes")
    for entry, results in sorted(counts.items()):
        outcomes = ", ".join(f"{result} {n}" for result, n in sorted(results.items()))
        print(f"{entry:22s} {sum(results.values()):6d}  {outcomes}")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
