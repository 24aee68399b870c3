"""The built-in problems as ``nn.Module``s trained by ``homotopt.torch.ProgPowerHP``, one trial at a time,
and the two-sided tests that compare them with the native runner (relu-torch, phase-retrieval-torch).

A torch trial uses the same problem instance, start, schedules, K, J, step rule and evaluation cadence
as the native runner's trial; its noise, minibatches and fresh inputs come from other streams (the
runner keys them by trial, torch by its own generator), so the comparison is statistical: success
rates by Fisher's exact test and the metric's distribution by the Mann-Whitney U test, both two-sided.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def fisher_two_sided(a: int, n_a: int, b: int, n_b: int) -> float:
    try:
        from scipy.stats import fisher_exact
    except ImportError:
        return float("nan")
    return float(fisher_exact([[a, n_a - a], [b, n_b - b]]).pvalue)


def mann_whitney_two_sided(x: np.ndarray, y: np.ndarray) -> float:
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        return float("nan")
    return float(mannwhitneyu(x, y, alternative="two-sided").pvalue)


def _modules():
    import torch

    class Student(torch.nn.Module):
        """s_W(x) = sum_i relu(w_i . x), W (k, n)."""

        def __init__(self, W0: np.ndarray) -> None:
            super().__init__()
            self.W = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))

        def forward(self, x):
            return torch.relu(x @ self.W.T).sum(dim=1)

    class PhaseModel(torch.nn.Module):
        """z = A w; the per-row loss ((a . w)^2 - y)^2 is the closure's."""

        def __init__(self, w0: np.ndarray) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))

        def forward(self, A):
            return A @ self.w

    return Student, PhaseModel


def relu_trial(teacher, val_x, val_y, test_x, test_y, W0: np.ndarray, *, steps: int, J: int, eval_every: int,
               num_samples: int, power, sigma, lr, seed: int) -> float:
    """Test MSE of the best iterate (by validation MSE) of one torch trial of the teacher-student problem."""
    import torch

    from homotopt.torch import ProgPowerHP

    Student, _ = _modules()
    k, n = teacher.shape
    model = Student(W0.reshape(k, n))
    T = torch.tensor(teacher, dtype=torch.float64)
    vx, vy = torch.tensor(val_x), torch.tensor(val_y)
    opt = ProgPowerHP(model.parameters(), num_samples=num_samples, power=power, sigma=sigma, lr=lr, seed=seed)
    gen = torch.Generator().manual_seed(seed)

    def validate():
        with torch.no_grad():
            opt.report(float(((model(vx) - vy) ** 2).mean()))

    validate()
    for t in range(steps):
        x = torch.randn(J, n, generator=gen, dtype=torch.float64)
        y = torch.relu(x @ T.T).sum(dim=1)
        opt.step(lambda: (model(x) - y) ** 2)
        if (t + 1) % eval_every == 0 or t + 1 == steps:
            validate()
    opt.load_best()
    with torch.no_grad():
        return float(((model(torch.tensor(test_x)) - torch.tensor(test_y)) ** 2).mean())


def phase_trial(A: np.ndarray, y: np.ndarray, mu0: np.ndarray, *, steps: int, J: int, eval_every: int,
                num_samples: int, power, sigma, lr, seed: int) -> np.ndarray:
    """The best iterate (by the mean fitness over all n rows) of one torch phase-retrieval trial."""
    import torch

    from homotopt.torch import ProgPowerHP

    _, PhaseModel = _modules()
    model = PhaseModel(mu0)
    At, yt = torch.tensor(A, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    opt = ProgPowerHP(model.parameters(), num_samples=num_samples, power=power, sigma=sigma, lr=lr, seed=seed)
    gen = torch.Generator().manual_seed(seed)

    def validate():
        with torch.no_grad():
            opt.report(float(((model(At) ** 2 - yt) ** 2).mean()))

    validate()
    for t in range(steps):
        rows = torch.randint(0, A.shape[0], (J,), generator=gen)
        a, b = At[rows], yt[rows]
        opt.step(lambda: (model(a) ** 2 - b) ** 2)
        if (t + 1) % eval_every == 0 or t + 1 == steps:
            validate()
    opt.load_best()
    return model.w.detach().numpy().copy()


def comparison_box(native: np.ndarray, torch_: np.ndarray, floor: float, ylabel: str,
                   title: str) -> Callable[[Any], None]:
    """The plot of a comparison: box plots of the metric per backend (log scale, values below `floor`
    drawn at it), for Report.plots."""

    def box(fig) -> None:
        ax = fig.add_subplot()
        ax.boxplot([np.maximum(native, floor), np.maximum(torch_, floor)])
        ax.set_xticks([1, 2], ["native runner", "homotopt.torch"])
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)

    return box


def summary_rows(name: str, native: np.ndarray, torch_: np.ndarray, threshold: float, walls: dict[str, float],
                 extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one setting: success below `threshold` and the metric's median per backend, with the tests."""
    a, b = int(np.sum(native <= threshold)), int(np.sum(torch_ <= threshold))
    p_rate = fisher_two_sided(b, torch_.size, a, native.size)
    p_dist = mann_whitney_two_sided(torch_, native)
    rows = []
    for backend, m, s in (("native", native, a), ("torch", torch_, b)):
        rows.append({**extra, "backend": backend, "trials": m.size, f"success <= {threshold:g}": s / m.size,
                     "median": float(np.median(m)), "mean": float(np.mean(m)),
                     "p (rates, Fisher)": p_rate if backend == "torch" else float("nan"),
                     "p (MWU)": p_dist if backend == "torch" else float("nan"), "wall s": walls[backend]})
    return rows
