"""The shipped data sets, their checksums, and the synthetic generator."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import data

README = Path(data.DATA_DIR) / "README.md"


def test_diabetes_shapes_and_dtypes():
    X, y = data.load_diabetes(standardize=False)
    assert X.shape == (442, 10) and y.shape == (442,)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    assert set(X[:, 1].unique().tolist()) == {1.0, 2.0}  # the sex column is coded 1 / 2
    assert y.min() == 25 and y.max() == 346


def test_diabetes_standardized():
    X, y = data.load_diabetes()
    torch.testing.assert_close(
        X.double().mean(0), torch.zeros(10, dtype=torch.float64), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        X.double().std(0, unbiased=False), torch.ones(10, dtype=torch.float64), atol=1e-6, rtol=0
    )
    assert (
        abs(y.double().mean().item()) < 1e-6
        and abs(y.double().std(unbiased=False).item() - 1) < 1e-6
    )


def test_digits_shapes_dtypes_and_labels():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert X.min() == 0 and X.max() == 1
    assert torch.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_readme_lists_the_same_checksums():
    text = README.read_text(encoding="utf-8")
    for name, digest in data.SHA256.items():
        assert re.search(rf"`{re.escape(name)}`.*`{digest}`", text), name


@pytest.fixture
def data_copy(tmp_path):
    for name in data.SHA256:
        shutil.copy(Path(data.DATA_DIR) / name, tmp_path / name)
    return tmp_path


def test_corrupt_file_is_named(data_copy):
    path = data_copy / "digits.csv.gz"
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match=r"'digits\.csv\.gz' is corrupt: its SHA-256"):
        data.load_digits(data_dir=data_copy)
    data.load_diabetes(data_dir=data_copy)  # the other files are still fine


def test_missing_file_is_named(data_copy):
    (data_copy / "diabetes_target.csv.gz").unlink()
    with pytest.raises(data.DataFileError, match=r"'diabetes_target\.csv\.gz' is missing"):
        data.load_diabetes(data_dir=data_copy)


def test_make_linear_data_reproduces_the_source_pages():
    x, y = data.make_linear_data(100, seed=0, dtype=torch.float64)
    # The pages' code, verbatim in spirit: np.random.seed(0); X = 2 * rand; y = 4 + 3X + randn.
    legacy = np.random.RandomState(0)
    X_ref = 2 * legacy.rand(100, 1)
    y_ref = 4 + 3 * X_ref + legacy.randn(100, 1)
    assert x.shape == (100, 1) and y.shape == (100, 1)
    np.testing.assert_array_equal(x.numpy(), X_ref)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    assert data.make_linear_data()[0].dtype == torch.float32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=0), r"n must be an integer >= 1, got n=0"),
        (dict(n=2.5), r"n must be an integer >= 1, got n=2\.5"),
        (dict(n=True), r"n must be an integer >= 1, got n=True"),
        (dict(dtype=torch.int64), r"dtype must be a floating torch dtype, got dtype=torch\.int64"),
        (dict(dtype="float32"), r"dtype must be a floating torch dtype"),
    ],
)
def test_make_linear_data_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.make_linear_data(**kwargs)
