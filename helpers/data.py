"""The course's data: two real data sets shipped in ``data/`` and one synthetic generator.

Nothing here touches the network. Every shipped file is checked against the SHA-256 recorded
in ``data/README.md`` before it is parsed, so a truncated or edited file fails loudly instead
of training on garbage.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import torch

from helpers.checks import check_count

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# Keep in sync with data/README.md (tests/test_data.py checks that they agree).
SHA256 = {
    "diabetes_data_raw.csv.gz": "7fc0ded571454b1982210d3bb43f0aca44eae01a0b8654a3b24022bdb6b38009",
    "diabetes_target.csv.gz": "8e53f65eb811df43c206f3534bb3af0e5fed213bc37ed6ba36310157d6023803",
    "digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
}

DIABETES_COLUMNS = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


class DataFileError(RuntimeError):
    """A shipped data file is missing or does not match its recorded checksum."""


def _read_checked(name: str, data_dir: Path | None = None) -> np.ndarray:
    """Verify ``name`` against its SHA-256, then parse it as a 2-D float64 array."""
    path = Path(data_dir or DATA_DIR) / name
    if not path.is_file():
        raise DataFileError(
            f"data file {name!r} is missing (looked for {path}); it ships with the course: "
            "restore it with `git checkout -- data/`"
        )
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[name]:
        raise DataFileError(
            f"data file {name!r} is corrupt: its SHA-256 is {digest}, expected {SHA256[name]}; "
            "restore it with `git checkout -- data/`"
        )
    text = gzip.decompress(raw).decode("ascii")
    delimiter = "," if "," in text.splitlines()[0] else None
    return np.loadtxt(text.splitlines(), delimiter=delimiter, ndmin=2)


def _standardize(a: np.ndarray) -> np.ndarray:
    """z-score each column: (a - mean) / std, with the population std (ddof=0)."""
    return (a - a.mean(axis=0)) / a.std(axis=0)


def load_diabetes(
    standardize: bool = True, data_dir: Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The diabetes regression data of Efron et al. (2004): 442 patients, 10 features.

    Returns float32 tensors ``X`` of shape (442, 10) (columns ``DIABETES_COLUMNS``) and ``y``
    of shape (442,). With ``standardize=True`` each feature and the target become
    ``(a - mean(a)) / std(a)``, so that one learning rate suits every coordinate.
    """
    features = _read_checked("diabetes_data_raw.csv.gz", data_dir)
    target = _read_checked("diabetes_target.csv.gz", data_dir)[:, 0]
    if standardize:
        features, target = _standardize(features), _standardize(target[:, None])[:, 0]
    return (
        torch.tensor(features, dtype=torch.float32),
        torch.tensor(target, dtype=torch.float32),
    )


def load_digits(data_dir: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The UCI 8x8 handwritten digits (Alpaydin & Kaynak 1998): 1797 images, 10 classes.

    Returns ``X``, float32 of shape (1797, 64) with pixel counts 0..16 divided by 16, and the
    labels ``y``, int64 of shape (1797,).
    """
    table = _read_checked("digits.csv.gz", data_dir)
    pixels, labels = table[:, :64], table[:, 64]
    return (
        torch.tensor(pixels / 16.0, dtype=torch.float32),
        torch.tensor(labels, dtype=torch.int64),
    )


def make_linear_data(
    n: int = 100, seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """The source pages' example: ``x = 2 U(0, 1)``, ``y = 4 + 3 x + N(0, 1)``; shapes (n, 1).

    Uses NumPy's legacy ``RandomState(seed)`` on purpose: with ``seed=0`` it draws exactly the
    numbers of the original ``np.random.seed(0); 2 * np.random.rand(100, 1); ...`` code, so
    results can be compared with the pages digit for digit.
    """
    n = check_count(n, "n", 1)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype, got dtype={dtype!r}")
    rng = np.random.RandomState(seed)
    x = 2 * rng.rand(n, 1)
    y = 4 + 3 * x + rng.randn(n, 1)
    return torch.tensor(x, dtype=dtype), torch.tensor(y, dtype=dtype)
