"""What a job imports before its work: heavy modules stay out of the jobs that do not
use them (each costs every such job its import time), and the deferred ones still
work when called."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"


def imported_after(code: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter holds after `code`."""
    probe = (
        f"import sys; sys.path.insert(0, {str(SCRIPTS)!r})\n{code}\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "code, absent",
    [
        # the fit and the normalisation: PyDESeq2 without its plotting and sklearn
        ("from msc_response.de.r_compat import DeseqDataSetR", {"sklearn"}),
        ("from msc_response.de.engines import dataset_class; dataset_class('pydeseq2')",
         {"sklearn"}),
        # a contrast: the fit file without AnnData or PyDESeq2
        ("from msc_response.de.fit_file import load_fit\n"
         "from msc_response.de.contrast import contrast_result",
         {"anndata", "pydeseq2", "sklearn", "matplotlib", "scanpy"}),
        # enrichment: gseapy's compiled GSEA core without the rest of gseapy
        ("from msc_response.enrichment.analysis import enrich, gsea_core; gsea_core()",
         {"matplotlib", "requests", "anndata", "scanpy"}),
    ],
)
def test_jobs_leave_out_unused_heavy_modules(code, absent):
    assert not imported_after(code) & absent


def test_deferred_modules_work_when_used():
    from msc_response.common.deferred import deferred_imports

    code = (
        "from msc_response.common.deferred import deferred_imports\n"
        "with deferred_imports():\n"
        "    from pydeseq2 import utils\n"
        "import numpy as np\n"
        "model = utils.LinearRegression(fit_intercept=False).fit(np.eye(2), np.ones(2))\n"
        "assert type(model).__module__.startswith('sklearn.linear_model')\n"
        "assert callable(utils.plt.subplots)\n"
        "import matplotlib.pyplot, sklearn.linear_model\n"
        "assert utils.plt.subplots is matplotlib.pyplot.subplots"
    )
    assert "sklearn" in imported_after(code)
    assert callable(deferred_imports)
