"""The course's small library: what the notebooks derive, packaged so later chapters can import it.

- ``helpers.optim``: ``sgd``, ``sgd_momentum``, ``sgd_momentum_ema``, ``sgd_nesterov`` (the
  d2l-style functions), and ``MomentumSGD`` re-exported;
- ``helpers.momentum_sgd``: ``MomentumSGD``, the same rule as a ``torch.optim.Optimizer``;
- ``helpers.update``: the rule on lists of tensors (per-tensor loop and foreach);
- ``helpers.compiled``: the same rule through ``torch.compile``, checked and with a fallback;
- ``helpers.checks``: argument checks that name the argument and its value;
- ``helpers.quadratic``: convergence theory of GD and heavy ball on quadratics (NumPy);
- ``helpers.data``: the shipped data sets and the synthetic example;
- ``helpers.plot``: the course's figure style.
"""
