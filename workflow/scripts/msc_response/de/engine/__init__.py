"""The DESeq2 inference engine: a gene-vectorised drop-in for PyDESeq2's ``DefaultInference``.

``FastInference`` implements every method of :class:`pydeseq2.inference.Inference`
on all genes at once and reproduces DefaultInference's answers, including where they
depend on its optimisers' stopping rules rather than on the optimum. Modules:

* ``inference``: the ``FastInference`` class, wiring the others;
* ``glm``: IRLS (PyDESeq2's ``irls_solver``), hat diagonals and the Wald test;
* ``dispersion``: gene-wise and MAP dispersions (``fit_alpha_mle``), and R DESeq2's
  dispersion log posterior;
* ``trend``: the gamma GLM dispersion trend (DefaultInference's fit and R's);
* ``shrinkage``: apeGLM-like LFC shrinkage (``nbinomGLM``);
* ``lbfgsb``: scipy's L-BFGS-B for many problems in numpy lockstep, and scipy's own
  ``setulb`` driven the same way;
* ``linesearch``: MINPACK-2's Moré-Thuente line search, numba and numpy;
* ``linalg``: batched linear algebra on (genes, p, p) stacks, BLAS thread control;
* ``kernels``: lazy numba compilation and the numba helpers the kernels share.

Large problems run numba kernels (``cache=True``, so compilation is paid once per
machine) in parallel over genes; small ones numpy lockstep versions of the same
algorithms, so numba is imported only when needed.
"""

from .inference import FastInference

__all__ = ["FastInference"]
