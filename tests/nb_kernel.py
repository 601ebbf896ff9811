"""pytest plugin (-p tests.nb_kernel): start a notebook's kernel again if it dies while starting.

Two pytest-xdist workers start kernels at the same moment. A kernel's TCP ports are chosen free
before the kernel binds them, and another process can take one in between; the kernel then dies
before it answers ("Kernel died before replying to kernel_info"). That is a start-up race, not a
failure of the notebook, so the start is tried up to three times, with a warning. A cell that
fails is never run again.
"""

from __future__ import annotations

import warnings

import nbval.kernel

ATTEMPTS = 3
_start_new_kernel = nbval.kernel.start_new_kernel


def _start_with_retries(*args, **kwargs):
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _start_new_kernel(*args, **kwargs)
        except RuntimeError as error:
            if "Kernel died" not in str(error) or attempt == ATTEMPTS:
                raise
            warnings.warn(f"kernel start {attempt} failed ({error}); trying again", stacklevel=1)
    raise AssertionError("unreachable")


# nbval's RunningKernel looks the function up in its module at each start.
nbval.kernel.start_new_kernel = _start_with_retries
