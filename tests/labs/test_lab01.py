"""Grade lab 01 with its spec. Default: the solution. ``LAB_IMPL=starter`` grades your work."""

import pytest

from labs_py import labs
from labs_py.labs.lab01 import spec


@pytest.fixture(scope="module")
def impl():
    return labs.load("lab01")


@pytest.mark.parametrize("check", spec.CHECKS, ids=lambda c: c.__name__)
def test_spec(check, impl):
    check(impl)
