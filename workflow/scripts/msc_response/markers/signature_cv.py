"""The repeated nested cross-validation of the response signature, fast enough to run
once per label permutation.

The permutation null is the whole procedure run again on permuted labels: the same
repeats with the same fold seeds, the same inner tuning, the same statistic (the
held-out AUROC averaged over repeats). That is ~100x the fits of the observed run
alone, so the procedure is written for speed:

- folds: `stratified_folds`, each class spread over the folds as evenly as possible
  in a seeded random order (as scikit-learn's `StratifiedKFold(shuffle=True)`
  does), without scikit-learn's per-call checks;
- per outer training set, `select_genes`: covariates fitted without the label and
  removed (as `design.covariates.fit_covariates`; the inner folds reuse that
  label-free fit instead of refitting it), then for it and each inner training set
  the Welch t of every candidate gene from group sums (matrix products of group
  indicators; an inner set's sums are the outer set's minus its left-out fold's),
  the `max_genes` largest |t| kept (ties: lower column), standardised with that
  training set's means and SDs;
- the L2-penalised logistic regressions of all training sets of one stage (every
  inner fold of every repeat, for every C of the grid; then every outer fold) are
  solved together by `l2_logistic`: Newton's method on the representer form
  w = X'alpha (n x n systems, n samples < p features), batched over problems, each
  C warm-started from the previous one. It minimises liblinear's objective exactly
  (0.5 |w|^2 + C sum_i s_i log(1 + exp(-y_i x_i'w)), the intercept a penalised
  feature of value 1, s_i the balanced class weights), to a gradient norm of 1e-9
  rather than liblinear's relative 1e-4. An `l1_ratio` above 0 falls back to
  scikit-learn, one problem at a time (slow: the L2 default is the fast path);
- held-out AUROCs by pairwise comparison (ties one half), batched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEWTON_TOL = 1e-9
DECREMENT_TOL = 1e-14
NEWTON_MAX = 100


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow (scipy.special.expit without the
    import, which costs the job more than the fits)."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def stratified_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number (0..k-1) of each sample: within each class, the samples (in their
    order) get folds 0, 1, ..., k-1, 0, 1, ... from a seeded random shuffle of that
    class's fold list (drawn from `rng`), so every fold holds floor or ceil(n_class /
    k) of each class. The fold sizes match scikit-learn's StratifiedKFold; the
    assignment is this project's own."""
    y = np.asarray(y)
    folds = np.empty(len(y), dtype=np.int64)
    start = 0
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        # the class's slots among the sorted labels, dealt to folds 0, 1, ..., k-1, 0, ...
        fold_list = np.arange(start, start + len(members)) % k
        fold_list.sort()
        folds[members] = rng.permutation(fold_list)
        start += len(members)
    return folds


@dataclass
class Selected:
    """Gene choice and scaling fitted on one training set: `features` are the
    chosen genes of every sample (training and held-out), covariate-adjusted and
    standardised with the training set's means and SDs."""

    genes: np.ndarray  # candidate columns, ascending
    features: np.ndarray  # samples x genes


def _welch_t(sums: np.ndarray, squares: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Welch t of group 0 against group 1 (axis -2) from each group's sum and sum of
    squares; counts: (..., 2)."""
    n = counts[..., None]
    means = sums / n
    # squared standard error of each group's mean: (sum of squares - n mean^2) / (n (n - 1))
    var = squares - means * sums
    np.maximum(var, 0, out=var)
    var /= n * (n - 1)
    se = np.sqrt(var[..., 0, :] + var[..., 1, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (means[..., 0, :] - means[..., 1, :]) / se
    return np.nan_to_num(t, copy=False)


def top_rows(score: np.ndarray, k: int) -> np.ndarray:
    """`top_columns` of each row of `score` (sets x genes): sets x k, ascending."""
    if k >= score.shape[1]:
        return np.tile(np.arange(score.shape[1]), (len(score), 1))
    part = np.argpartition(-score, k - 1, axis=1)[:, :k]
    threshold = np.take_along_axis(score, part, axis=1).min(axis=1)
    exact = (score >= threshold[:, None]).sum(axis=1) == k  # no tie across the cut
    chosen = np.sort(part, axis=1)
    for row in np.flatnonzero(~exact):
        chosen[row] = top_columns(score[row], k)
    return chosen


def select_genes(values: np.ndarray, covariates: np.ndarray, y: np.ndarray,
                 training: np.ndarray, inner: np.ndarray, inner_folds: int,
                 max_genes: int) -> tuple[Selected, list[Selected]]:
    """Gene choice of one outer training set and of its inner training sets.

    values: samples x candidate genes, centred per gene; covariates: the design's
    covariate columns; y: labels (0/1); training: bool per sample (the outer
    training set); inner: the inner fold (0..inner_folds-1) of each training sample.

    The covariates are fitted on the outer training samples, without the label (least
    squares on [1, centred covariates], minimum-norm where a level is absent, as
    `design.covariates.fit_covariates`), and removed from every sample. That fit
    never sees a label, so the inner folds reuse it. Then, per training set (the outer
    one, and each inner one: the outer training samples outside one inner fold), the
    `max_genes` genes of largest |Welch t| between its groups (ties: lower column),
    standardised with its means and SDs (ddof 1). The inner sets' group sums are the
    outer set's minus those of the inner fold left out (matrix products of group
    indicators with the adjusted values and their squares).
    """
    rows = np.flatnonzero(training)
    cov_train = covariates[rows]
    centre = cov_train.mean(axis=0)
    train_values = values[rows]
    if covariates.shape[1]:
        design = np.hstack([np.ones((len(rows), 1)), cov_train - centre])
        coef = np.linalg.pinv(design)[1:] @ train_values
        a = train_values - (cov_train - centre) @ coef
    else:
        coef = np.zeros((0, values.shape[1]))
        a = train_values
    labels = y[rows]
    # indicators: [group 1, group 0] of the outer set, then of each inner fold
    masks = [labels == 1, labels == 0]
    for fold in range(inner_folds):
        held = inner == fold
        masks += [held & (labels == 1), held & (labels == 0)]
    indicator = np.asarray(masks, dtype=float)
    sums = (indicator @ a).reshape(inner_folds + 1, 2, -1)
    squares = (indicator @ (a * a)).reshape(inner_folds + 1, 2, -1)
    counts = indicator.sum(axis=1).reshape(inner_folds + 1, 2)
    # set 0: the outer training set; set 1 + j: it without inner fold j
    sums[1:] = sums[0] - sums[1:]
    squares[1:] = squares[0] - squares[1:]
    counts[1:] = counts[0] - counts[1:]
    genes = top_rows(np.abs(_welch_t(sums, squares, counts)), max_genes)
    members = np.zeros((inner_folds + 1, len(y)), dtype=bool)
    members[0] = training
    for fold in range(inner_folds):
        members[1 + fold, rows[inner != fold]] = True
    # the chosen genes of every sample, adjusted with the training fit: sets x n x k
    flat = genes.ravel()
    chosen = values[:, flat] - (covariates - centre) @ coef[:, flat]
    chosen = np.swapaxes(chosen.reshape(len(y), *genes.shape), 0, 1)
    weight = members[..., None].astype(float)
    size = weight.sum(axis=1)
    mean = (chosen * weight).sum(axis=1) / size
    sd = np.sqrt((((chosen - mean[:, None]) ** 2) * weight).sum(axis=1) / (size - 1))
    sd[~(sd > 0)] = 1.0
    features = (chosen - mean[:, None]) / sd[:, None]
    outer = Selected(genes[0], features[0])
    inner_sets = [Selected(genes[1 + j], features[1 + j]) for j in range(inner_folds)]
    return outer, inner_sets


def top_columns(score: np.ndarray, k: int) -> np.ndarray:
    """The k columns of largest `score`, ties at the boundary to the lower column,
    ascending (as a stable sort by -score would take them)."""
    if k >= len(score):
        return np.arange(len(score))
    threshold = score[np.argpartition(-score, k - 1)[:k]].min()
    above = np.flatnonzero(score > threshold)
    ties = np.flatnonzero(score == threshold)[: k - len(above)]
    return np.sort(np.concatenate([above, ties]))


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-sample weights n / (2 n_class): scikit-learn's class_weight='balanced'."""
    counts = np.bincount(y, minlength=2).astype(float)
    return (len(y) / (2 * counts))[y]


def l2_logistic(kernel: np.ndarray, signs: np.ndarray, cost: np.ndarray,
                alpha: np.ndarray | None = None) -> np.ndarray:
    """Dual coefficients alpha (w = X'alpha) of L2-penalised logistic regressions.

    kernel: (B, n, n) Gram matrices X X' (X with the intercept column; padded rows
    zero); signs: (B, n) labels as +-1; cost: (B, n) C times the sample weight, 0 for
    padding; alpha: warm start. Minimises 0.5 |w|^2 + sum_i cost_i log(1 + exp(-m_i)),
    m_i = signs_i x_i'w, by Newton steps alpha -= (I + D K)^-1 g with g = alpha -
    cost * signs * sigmoid(-m) (so that grad = X'g), D = cost * sigmoid(m) sigmoid(-m),
    and backtracking (Armijo) until the objective falls; stops at |grad| = sqrt(g'Kg)
    < 1e-9 or when the Newton decrement g'K step falls to 1e-14 of the objective.
    """
    batch, n = signs.shape
    alpha = np.zeros((batch, n)) if alpha is None else alpha.copy()
    eye = np.eye(n)
    active = np.arange(batch)
    for _ in range(NEWTON_MAX):
        k, s, c, a = kernel[active], signs[active], cost[active], alpha[active]
        f = (k @ a[..., None])[..., 0]
        g = a - c * s * expit(-s * f)
        kg = (k @ g[..., None])[..., 0]
        keep = np.einsum("bi,bi->b", g, kg) >= NEWTON_TOL**2
        if not keep.all():
            active, k, s, c, a, f, g, kg = (x[keep] for x in (active, k, s, c, a, f, g, kg))
        if not len(active):
            break
        m = s * f
        d = c * expit(m) * expit(-m)
        step = np.linalg.solve(eye + d[:, :, None] * k, g[..., None])[..., 0]
        k_step = (k @ step[..., None])[..., 0]
        before = 0.5 * np.einsum("bi,bi->b", a, f) + (c * np.logaddexp(0, -m)).sum(axis=1)
        slope = np.einsum("bi,bi->b", kg, step)  # gradient . Newton direction
        # Newton decrement at rounding level: the objective cannot show a decrease
        # any more (|w - w*| < ~1e-7, strong convexity 1): take the step and stop
        done = slope < DECREMENT_TOL * np.maximum(1.0, np.abs(before))
        t = np.ones(len(active))
        for _ in range(40):  # per problem: halve the step until the objective falls
            trial_f = f - t[:, None] * k_step
            trial = 0.5 * np.einsum("bi,bi->b", a - t[:, None] * step, trial_f) + (
                c * np.logaddexp(0, -s * trial_f)).sum(axis=1)
            bad = (trial > before - 1e-4 * t * slope) & ~done
            if not bad.any():
                break
            t = np.where(bad, t / 2, t)
        alpha[active] = a - t[:, None] * step
        active = active[~done]
    return alpha


def pairwise_auc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC of each row of `scores` (B, n) for the samples marked `positive` (bool,
    (n,) or (B, n) with the same count per row) against the rest, ties one half."""
    scores = np.atleast_2d(scores)
    positive = np.broadcast_to(positive, scores.shape)
    n1 = int(positive[0].sum())
    pos = scores[positive].reshape(len(scores), n1)
    neg = scores[~positive].reshape(len(scores), -1)
    diff = pos[:, :, None] - neg[:, None, :]
    return ((diff > 0) + 0.5 * (diff == 0)).mean(axis=(1, 2))


# ---------------------------------------------------------------- the nested CV


@dataclass
class CVResult:
    """One repeat of the nested cross-validation (or, for a permutation, the mean
    AUROC over its repeats with the first repeat's scores)."""

    scores: np.ndarray  # held-out decision values, one per sample
    auroc: float
    coefficients: list  # per outer fold: pd.Series, candidate column -> coefficient (non-zero)


@dataclass
class _Problem:
    selected: Selected
    train: np.ndarray  # sample positions
    held: np.ndarray


def _sklearn_fit(x, y, c, l1_ratio):
    import warnings

    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(
        C=c, l1_ratio=l1_ratio, solver="liblinear" if l1_ratio in (0, 1) else "saga",
        max_iter=1000, random_state=0,
    )
    with warnings.catch_warnings(), sklearn.config_context(
        skip_parameter_validation=True, assume_finite=True
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(x, y, sample_weight=balanced_weights(y))
    return np.r_[classifier.coef_[0], classifier.intercept_[0]]


def fit_problems(problems: list[_Problem], y: np.ndarray, costs: np.ndarray,
                 l1_ratio: float) -> np.ndarray:
    """Weights [coefficients..., intercept] per problem (rows) and per C (columns of
    `costs`, problems x path; each row ascending for the warm starts)."""
    batch, path = costs.shape
    p = problems[0].selected.features.shape[1] + 1
    weights = np.zeros((path, batch, p))
    if l1_ratio != 0:
        for b, problem in enumerate(problems):
            x = problem.selected.features[problem.train]
            for j in range(path):
                weights[j, b] = _sklearn_fit(x, y[problem.train], costs[b, j], l1_ratio)
        return weights
    n = max(len(problem.train) for problem in problems)
    x = np.zeros((batch, n, p))
    signs = np.zeros((batch, n))
    sample_weight = np.zeros((batch, n))
    for b, problem in enumerate(problems):
        rows = problem.train
        x[b, : len(rows), :-1] = problem.selected.features[rows]
        x[b, : len(rows), -1] = 1.0  # liblinear's intercept: a penalised feature
        signs[b, : len(rows)] = 2.0 * y[rows] - 1
        sample_weight[b, : len(rows)] = balanced_weights(y[rows])
    kernel = x @ np.swapaxes(x, 1, 2)
    alpha = None
    for j in range(path):
        alpha = l2_logistic(kernel, signs, costs[:, j : j + 1] * sample_weight, alpha)
        weights[j] = np.einsum("bnp,bn->bp", x, alpha)
    return weights


def _all_scores(problems: list[_Problem], weights: np.ndarray) -> np.ndarray:
    """Decision values of every sample (problems x path x samples) under each
    problem's weights along the path (weights: path x problems x p)."""
    features = np.stack([problem.selected.features for problem in problems])  # B x n x k
    coef = np.moveaxis(weights[..., :-1], 0, 2)  # B x k x path
    scores = features @ coef + weights[..., -1].T[:, None, :]  # B x n x path
    return np.swapaxes(scores, 1, 2)


def cross_validate(values: np.ndarray, y: np.ndarray, covariates: np.ndarray,
                   settings, keep_coefficients: bool = True) -> list[CVResult]:
    """`settings.repeats` repeats of the nested CV (repeat r draws its outer folds,
    then the inner folds of each outer training set, from a generator seeded
    settings.seed + r: the same folds for the same labels), run in lockstep so that the classifier fits of each stage are
    solved together. Returns one CVResult per repeat.

    values: samples x candidate genes (centred per gene here); y: 0/1 labels."""
    import pandas as pd

    y = np.asarray(y, dtype=int)
    values = values - values.mean(axis=0)
    grid = np.asarray(sorted(settings.c_grid), dtype=float)
    outer_problems, inner_problems, outer_folds = [], [], []
    for r in range(settings.repeats):
        rng = np.random.default_rng(settings.seed + r)
        folds = stratified_folds(y, settings.outer_folds, rng)
        outer_folds.append(folds)
        for k in range(settings.outer_folds):
            training = folds != k
            rows = np.flatnonzero(training)
            inner = stratified_folds(y[rows], settings.inner_folds, rng)
            outer, inner_sets = select_genes(values, covariates, y, training, inner,
                                             settings.inner_folds, settings.max_genes)
            outer_problems.append(_Problem(outer, rows, np.flatnonzero(folds == k)))
            inner_problems.append([
                _Problem(selected, rows[inner != j], rows[inner == j])
                for j, selected in enumerate(inner_sets)
            ])
    # inner stage: every inner problem along the C grid; C by pooled inner AUROC
    flat = [problem for problems in inner_problems for problem in problems]
    chosen = np.full(len(outer_problems), grid[0])
    if len(grid) > 1:
        weights = fit_problems(flat, y, np.tile(grid, (len(flat), 1)), settings.l1_ratio)
        scores = _all_scores(flat, weights)
        position = 0
        for i, problems in enumerate(inner_problems):
            rows = outer_problems[i].train
            pooled = np.zeros((len(grid), len(y)))
            for problem in problems:
                pooled[:, problem.held] = scores[position][:, problem.held]
                position += 1
            aucs = pairwise_auc(pooled[:, rows], y[rows] == 1)
            chosen[i] = grid[int(np.argmax(aucs))]  # ties: the stronger penalty
    # outer stage: each outer training set with its C
    weights = fit_problems(outer_problems, y, chosen[:, None], settings.l1_ratio)
    outer_scores = _all_scores(outer_problems, weights)[:, 0]
    weights = weights[0]
    results = []
    for r in range(settings.repeats):
        scores = np.zeros(len(y))
        coefficients = []
        for k in range(settings.outer_folds):
            i = r * settings.outer_folds + k
            problem = outer_problems[i]
            scores[problem.held] = outer_scores[i, problem.held]
            if keep_coefficients:
                coef = weights[i][:-1]
                nonzero = coef != 0
                coefficients.append(pd.Series(coef[nonzero], index=problem.selected.genes[nonzero]))
        results.append(CVResult(scores, float(pairwise_auc(scores, y == 1)[0]), coefficients))
    return results
