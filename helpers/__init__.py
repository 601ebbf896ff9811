"""The course's small library: what the notebooks derive, packaged so later chapters can import it.

- ``helpers.optim``: ``sgd``, ``sgd_momentum``, ``sgd_momentum_ema``, ``sgd_nesterov`` and the
  ``MomentumSGD`` optimizer class;
- ``helpers.update``: the arithmetic they share (loop, foreach and compiled versions);
- ``helpers.quadratic``: convergence theory of GD and heavy ball on quadratics (NumPy);
- ``helpers.data``: the shipped data sets and the synthetic example;
- ``helpers.plot``: the course's figure style.
"""
