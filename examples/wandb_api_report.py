"""A plain ``wandb.Api`` script: it runs unchanged on wandb-frames.

    python examples/wandb_api_report.py entity/project        # the official client
    python -c "import runpy, sys, wandb, wandb_frames; wandb.Api = wandb_frames.Api; \
        sys.argv = ['x', 'entity/project']; runpy.run_path('examples/wandb_api_report.py', run_name='__main__')"

It uses the idioms of scripts written for ``wandb.Api``: ISO ``created_at[:19]``,
``"/".join(run.path)``, ``run.user.username``, ``run.summary._json_dict``, ``runs[0]``,
``run.history(samples=..., keys=..., pandas=False)``, ``run.scan_history``,
``run.sweep.config``, ``file.download(...)`` as an open file, artifacts' ``created_at``.
``tests/conformance/test_example_script.py`` runs it with both clients against the same
local server and requires the same output. Server and key come from ``WANDB_BASE_URL`` /
``WANDB_API_KEY``.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile

import wandb


def fmt(value: object) -> str:
    """Numbers rounded for printing; NaN/inf and everything else as repr."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return repr(value)


def main(path: str) -> None:
    api = wandb.Api()
    entity = path.split("/")[0]
    runs = api.runs(path, filters={"state": "finished"}, order="+created_at")
    print("finished runs:", len(runs))
    for run in runs:
        lr = (run.config.get("optimizer") or {}).get("lr")
        print(run.id, run.name, run.state, run.created_at[:19], "/".join(run.path),
              run.user.username if run.user else None, run.sweep_name, sorted(run.tags),
              "lr", fmt(lr), "loss", fmt(run.summary.get("loss")),
              "eval/loss", fmt(run.summary._json_dict.get("eval/loss")))

    first = runs[0]
    print("first:", first.id, first.url.split("/", 3)[-1], first.lastHistoryStep)
    rows = first.history(samples=5, keys=["loss"], pandas=False)
    print("sampled:", [(r["_step"], fmt(r["loss"])) for r in rows])
    frame = first.history()
    print("history frame:", len(frame), list(frame.columns))
    scanned = list(first.scan_history(keys=["loss", "acc"]))
    print("scanned:", len(scanned), scanned[-1]["_step"], fmt(scanned[-1]["loss"]))
    system = first.history(stream="events", pandas=False)
    print("system rows:", len(system))

    sweep = first.sweep
    if sweep is not None:
        print("sweep:", sweep.id, sweep.name, sweep.config.get("method"), sweep.state, sweep.created_at[:10])
        best = sweep.best_run()
        print("best run:", best.id if best else None)

    for file in first.files():
        print("file:", file.name, file.size, file.updated_at[:19])
    with tempfile.TemporaryDirectory() as root:
        with first.file("wandb-metadata.json").download(root=root, replace=True) as handle:
            print("python:", json.load(handle).get("python"))

    for artifact in first.used_artifacts():
        print("used:", artifact.name, artifact.type, artifact.version, artifact.created_at[:19], artifact.aliases)
    artifact = api.artifact(f"{path}/train-data:latest")
    print("artifact:", artifact.name, artifact.version, artifact.digest, artifact.metadata)
    print("artifact files:", [f.name for f in artifact.files()])

    for project in api.projects(entity):
        print("project:", project.name, project.created_at[:10])
    for report in api.reports(path):
        print("report:", report.display_name, report.created_at[:10])


if __name__ == "__main__":
    main(sys.argv[1])
