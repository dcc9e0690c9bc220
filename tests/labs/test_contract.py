"""The labs' contract: a starter and a solution with the same functions, and a spec that tells them apart."""

import inspect
import os

import pytest

from labs_py import labs
from labs_py.labs.grading import run_spec

LABS_WITH_SPECS = [
    name
    for name in labs.LABS
    if os.path.exists(os.path.join(os.path.dirname(labs.__file__), name, "spec.py"))
]


@pytest.mark.parametrize("lab", LABS_WITH_SPECS)
def test_starter_has_every_solution_function_with_the_same_signature(lab):
    sol, start = labs.load(lab, "solution"), labs.load(lab, "starter")
    public = [
        n
        for n, f in vars(sol).items()
        if inspect.isfunction(f)
        and f.__module__ == sol.__name__
        and not n.startswith("_")
    ]
    assert public, "the solution exposes no functions"
    for name in public:
        assert hasattr(start, name), f"starter is missing {name}"
        assert inspect.signature(getattr(start, name)) == inspect.signature(
            getattr(sol, name)
        ), name


@pytest.mark.parametrize("lab", LABS_WITH_SPECS)
def test_spec_passes_the_solution_and_fails_the_starter(lab):
    spec = __import__(f"labs_py.labs.{lab}.spec", fromlist=["CHECKS"])
    assert run_spec(spec.CHECKS, labs.load(lab, "solution")).all_passed
    starter = run_spec(spec.CHECKS, labs.load(lab, "starter"))
    assert starter.passed == 0, f"a stub passed a check:\n{starter}"
    assert {r.status for r in starter.results} == {"todo"}


def test_lab_impl_env_selects_the_implementation(monkeypatch):
    monkeypatch.setenv("LAB_IMPL", "starter")
    assert labs.load("lab03").__name__.endswith(".starter")
    monkeypatch.setenv("LAB_IMPL", "solutoin")
    with pytest.raises(ValueError, match="solutoin"):
        labs.load("lab03")


def test_grader_reports_a_wrong_answer_as_a_failure():
    from labs_py.labs.lab03 import solution, spec

    class OffByOne:
        def __getattr__(self, name):
            return getattr(solution, name)

        @staticmethod
        def kv_payload_bytes(prompt_tokens, kv_bytes_per_token):
            return (prompt_tokens + 1) * kv_bytes_per_token

    report = run_spec(spec.CHECKS, OffByOne())
    statuses = {r.name: r.status for r in report.results}
    assert statuses["payload of a 2048 token 8b prompt is 256 mib"] == "fail"
    assert not report.all_passed
