"""The native runner stepped one step at a time (a test helper): trial 0's iterates mu_0 .. mu_T."""

import numpy as np

import homotopt
from homotopt import _core


def native_iterates(problem, mu0, method, steps, **config):
    """mu_0 .. mu_T of trial 0 from the native runner, one step at a time."""
    config = dict(config, method=homotopt._run.METHODS[method], steps=steps)
    runner = _core.Runner(problem._runner_problem(), config, np.ascontiguousarray(mu0[None, :]))
    out = [mu0.astype(np.float64)]
    for _ in range(steps):
        runner.advance(1)
        out.append(runner.state()[0][0].astype(np.float64))
    return np.array(out)
