"""The course's small library: what the notebooks derive, packaged so later chapters can import it.

- ``helpers.optim``: ``sgd``, ``sgd_momentum``, ``sgd_momentum_ema``, ``sgd_nesterov`` (the
  d2l-style functions) and ``MomentumSGD``, the same rule as a ``torch.optim.Optimizer``;
- ``helpers.sgd_rule``: the rule of one step, written once, on lists of tensors (loop, foreach);
- ``helpers.compiled``: the same rule through ``torch.compile``, checked and with a fallback;
- ``helpers.step_variants``: notebook 08's five ways of writing one step (d2l verbatim to
  compiled), shared with ``benchmarks/optimizer_step.py``;
- ``helpers.checks``: argument checks that name the argument and its value;
- ``helpers.quadratic``: convergence theory of GD and heavy ball on quadratics (NumPy);
- ``helpers.data``: the shipped data sets and the synthetic example;
- ``helpers.plot``: the course's figure style.
"""
