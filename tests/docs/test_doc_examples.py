"""Every ```python block in README.md and docs/*.md runs, so the examples cannot rot.

Convention: the blocks of one file run in order, in one fresh namespace, in a fresh working
directory. A block right after a line ``<!-- no-run -->`` is skipped (for code that cannot
run here; none today). The environment is that of a user with an account: ``WANDB_API_KEY``
and ``WANDB_BASE_URL`` point at a :class:`LocalServer` holding ``my-team/my-project`` (with
config ``lr``, tags, histories), and the working directory has an offline ``./wandb`` folder
written by the official ``wandb`` client, so ``wf.Api()`` and ``local_runs("./wandb")`` work.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wandb_frames.testing import LocalServer, RunRecord, synthetic_project, synthetic_sweeps

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ENTITY, PROJECT = "my-team", "my-project"

#: Logs two small offline runs with the official client (lr 1e-2 and 1e-4, metrics acc/loss).
OFFLINE_RUNS = """
import wandb
for lr in (1e-2, 1e-4):
    run = wandb.init(project="my-project", config={"lr": lr})
    for step in range(5):
        run.log({"acc": 0.1 * step, "loss": 1.0 / (step + 1)})
    run.finish()
"""


@dataclass(frozen=True)
class Block:
    """One fenced python block: where it starts (1-based line of its first code line)."""

    path: Path
    line: int
    code: str
    skip: bool


def extract_blocks(path: Path, text: str) -> list[Block]:
    """The ```python blocks of a markdown text, in order, marking the ``no-run`` ones."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").splitlines()
        previous = before[-1].strip() if before else ""
        line = text.count("\n", 0, match.start(1)) + 1
        blocks.append(Block(path, line, match.group(1), skip=previous == NO_RUN))
    return blocks


def _doc_ids() -> list[Path]:
    return [p for p in DOCS if extract_blocks(p, p.read_text(encoding="utf-8"))]


def test_extract_blocks_order_lines_and_no_run_marker() -> None:
    text = textwrap.dedent("""\
        # t
        ```python
        a = 1
        ```
        text
        <!-- no-run -->
        ```python
        b = wf.Api()
        ```
        ```sh
        echo no
        ```
        ```python
        c = a + 1
        ```
        """)
    blocks = extract_blocks(Path("x.md"), text)
    assert [(b.line, b.code, b.skip) for b in blocks] == [
        (3, "a = 1\n", False), (8, "b = wf.Api()\n", True), (14, "c = a + 1\n", False),
    ]


def test_docs_have_examples_and_no_skipped_ones() -> None:
    blocks = [b for p in DOCS for b in extract_blocks(p, p.read_text(encoding="utf-8"))]
    assert len(blocks) >= 10
    names = {b.path.name for b in blocks}
    assert {"README.md", "quickstart.md", "filters.md", "history.md"} <= names
    skipped = [f"{b.path.name}:{b.line}" for b in blocks if b.skip]
    assert skipped == [], "every example should run against the local server"


def _seed_records() -> list[RunRecord]:
    """A small synthetic study; ``config.lr`` mirrors ``optimizer.lr`` for the docs' examples."""
    records = synthetic_project(24, seed=1, history_steps=30)
    for record in records:
        record["config"]["lr"] = record["config"]["optimizer"]["lr"]
    return records


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, Path]]:
    """The local server with ``my-team/my-project``, and a folder of offline runs."""
    offline = tmp_path_factory.mktemp("offline")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_ERROR_REPORTING="false",
               WANDB_DISABLE_GIT="true", WANDB_DIR=str(offline), WANDB_CACHE_DIR=str(offline / "cache"),
               WANDB_CONFIG_DIR=str(offline / "config"), WANDB_DATA_DIR=str(offline / "data"))
    done = subprocess.run([sys.executable, "-c", OFFLINE_RUNS], env=env, cwd=offline,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    records = _seed_records()
    with LocalServer(entity=ENTITY) as server:
        server.add_runs(ENTITY, PROJECT, records)
        server.add_sweeps(ENTITY, PROJECT, synthetic_sweeps(records))
        yield server, offline / "wandb"


@pytest.mark.filterwarnings("ignore::wandb_frames.errors.LossyConversionWarning")  # config.warmup_steps
@pytest.mark.parametrize("doc", _doc_ids(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doc_examples_run(doc: Path, account: tuple[LocalServer, Path], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    server, offline = account
    for name in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wandb").symlink_to(offline, target_is_directory=True)

    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    try:
        for block in extract_blocks(doc, doc.read_text(encoding="utf-8")):
            if block.skip:
                continue
            # Pad so that tracebacks show the markdown file's own line numbers.
            source = "\n" * (block.line - 1) + block.code
            exec(compile(source, str(doc), "exec"), namespace)  # noqa: S102 - the docs' own examples
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
        stop = getattr(namespace.get("server"), "stop", None)
        if callable(stop):
            stop()  # an example that started its own LocalServer
