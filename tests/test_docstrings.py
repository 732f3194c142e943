"""The Examples sections of the public docstrings run and print what they show."""
import doctest
import importlib

import pytest

MODULES = ["skhydro.mesh._mesh", "skhydro.forcings", "skhydro.structures", "skhydro.simulation",
           "skhydro.datasets._synthetic", "skhydro.cost", "skhydro.gradient", "skhydro.metrics._metrics",
           "skhydro.units", "skhydro.estimators._distributed_gr4",
           "skhydro.model_selection._split", "skhydro.model_selection._scorers", "skhydro.mappings._mappings",
           "skhydro.mappings._regional", "skhydro.mappings._descriptors", "skhydro.estimators._regional",
           "skhydro.estimators._hybrid", "skhydro.hybrid._network"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
