"""Efficiency and error metrics of simulated against observed discharge (spec §4.4, §4.6)."""
from ._metrics import (
    METRICS,
    kge,
    kge_gradient,
    lgrm,
    lgrm_gradient,
    mae,
    mae_gradient,
    mape,
    mape_gradient,
    mse,
    mse_gradient,
    nnse,
    nnse_gradient,
    nse,
    nse_gradient,
    rmse,
    rmse_gradient,
)

__all__ = [
    "METRICS",
    "nse", "nse_gradient", "nnse", "nnse_gradient", "kge", "kge_gradient",
    "mae", "mae_gradient", "mape", "mape_gradient", "mse", "mse_gradient",
    "rmse", "rmse_gradient", "lgrm", "lgrm_gradient",
]
