"""The notebooks run top to bottom on this venv's Python, and are stored without outputs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import install as install_kernelspec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = ["01_quickstart.ipynb", "02_comparing_runs.ipynb", "03_filters_server_vs_local.ipynb"]
KERNEL = "wandb-frames-tests"
CELL_TIMEOUT = 120  # seconds per cell; each notebook takes a few seconds in all
PLOT_HELPERS = ("plot_curves(", "parallel_coordinates(", "summary_scatter(")
NOTEBOOK_BUDGET = 60  # seconds per notebook, kernel start included (target: < 20)


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernelspec for *this* interpreter (the venv's), in a temporary prefix."""
    prefix = tmp_path_factory.mktemp("jupyter")
    install_kernelspec(kernel_name=KERNEL, display_name="wandb-frames tests", prefix=str(prefix))
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    assert specs.get_kernel_spec(KERNEL).argv[0] == sys.executable
    return specs


def test_the_three_notebooks_are_there() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"{name}: a cell has outputs (strip them before committing)"
        assert cell.execution_count is None, f"{name}: a cell has an execution count"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom(name: str, kernel_specs: KernelSpecManager, tmp_path: Path) -> None:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = NotebookClient(book, km=manager, timeout=CELL_TIMEOUT, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    started = time.perf_counter()
    try:
        client.execute()  # raises CellExecutionError (with the traceback) if any cell fails
    finally:
        if manager.has_kernel:  # nbclient leaves a kernel it did not create running
            manager.shutdown_kernel(now=True)
    elapsed = time.perf_counter() - started
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors
    assert elapsed < NOTEBOOK_BUDGET, f"{name} took {elapsed:.1f} s"
    for cell in code:  # a plot helper's figure is shown once, as the cell's value
        pngs = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        last = cell.source.strip().splitlines()[-1]
        if last.startswith(PLOT_HELPERS):
            assert len(pngs) == 1, f"{name}: {last!r} showed {len(pngs)} images"
        assert len(pngs) <= 1, f"{name}: a cell showed {len(pngs)} images"
