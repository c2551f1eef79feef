"""The fit is least squares: equal to numpy's lstsq, at a zero of the loss's gradient, and where
plain gradient descent on the squared loss ends up."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.least_squares import fit
from app.domain.model import PriceModel
from app.domain.streaming import fit_chunks


def coefficients(model: PriceModel) -> np.ndarray:
    return np.array([model.intercept, *model.weights])


def lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones(len(X)), X])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    return np.asarray(solution)


@st.composite
def well_conditioned(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Independent features of varied scales, a linear price of varied scale, a little noise."""
    n = draw(st.integers(min_value=8, max_value=3_000))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    feature_scales = [10.0 ** draw(st.integers(-2, 5)) for _ in range(3)]
    price_scale = 10.0 ** draw(st.integers(0, 7))
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 1.5, size=(n, 3)) * feature_scales
    # Every feature moves the price by about price_scale over its range, so no coefficient is ~0.
    signs = rng.choice([-1.0, 1.0], size=3)
    w = signs * rng.uniform(0.5, 2.0, size=3) * price_scale / np.array(feature_scales)
    y = price_scale * 3 + X @ w + rng.normal(0.0, 0.01 * price_scale, size=n)
    return X, y


@settings(max_examples=60, deadline=None, derandomize=True)
@given(well_conditioned())
def test_the_fit_equals_numpy_lstsq_to_1e_6_relative(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    np.testing.assert_allclose(coefficients(fit(X, y)), lstsq(X, y), rtol=1e-6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(well_conditioned())
def test_the_fit_from_sufficient_statistics_equals_numpy_lstsq_to_1e_6_relative(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = data
    half = len(X) // 2
    chunks = [np.column_stack([X[:half], y[:half]]), np.column_stack([X[half:], y[half:]])]
    np.testing.assert_allclose(coefficients(fit_chunks(chunks).model), lstsq(X, y), rtol=1e-6)


def design_and_target(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return frame[["beds", "baths", "sqft"]].to_numpy(float), frame["price"].to_numpy(float)


def test_the_gradient_of_the_squared_loss_is_zero_at_the_fit(sacramento: pd.DataFrame) -> None:
    X, y = design_and_target(sacramento)
    design = np.column_stack([np.ones(len(X)), X])
    w = coefficients(fit(X, y))
    gradient = 2 / len(X) * design.T @ (design @ w - y)
    # Each component against the size its terms have (Cauchy-Schwarz), so the test is scale-free.
    size = 2 / len(X) * np.linalg.norm(design, axis=0) * np.linalg.norm(y)
    assert np.all(np.abs(gradient) <= 1e-10 * size), gradient / size


def test_gradient_descent_on_standardised_features_reaches_the_same_coefficients(
    sacramento: pd.DataFrame,
) -> None:
    X, y = design_and_target(sacramento)
    mean, sd = X.mean(axis=0), X.std(axis=0)
    Z = np.column_stack([np.ones(len(X)), (X - mean) / sd])
    # Step 1/L, L the largest eigenvalue of the loss's Hessian 2/n·ZᵀZ: descent never diverges.
    hessian = 2 / len(Z) * Z.T @ Z
    step = 1 / np.linalg.eigvalsh(hessian).max()
    v = np.zeros(4)
    for _ in range(20_000):
        gradient = 2 / len(Z) * Z.T @ (Z @ v - y)
        v -= step * gradient
        if np.linalg.norm(gradient) < 1e-9:
            break
    weights = v[1:] / sd
    intercept = v[0] - weights @ mean
    np.testing.assert_allclose(np.array([intercept, *weights]), coefficients(fit(X, y)), rtol=1e-6)
    assert np.linalg.norm(gradient) < 1e-9  # it converged, and did not merely stop
