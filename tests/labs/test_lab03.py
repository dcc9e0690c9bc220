"""Grade lab 03 with its spec. Default: the solution. ``LAB_IMPL=starter`` grades your work."""

import pytest

from labs_py import labs
from labs_py.labs.lab03 import spec


@pytest.fixture(scope="module")
def impl():
    return labs.load("lab03")


@pytest.mark.parametrize("check", spec.CHECKS, ids=lambda c: c.__name__)
def test_spec(check, impl):
    check(impl)
