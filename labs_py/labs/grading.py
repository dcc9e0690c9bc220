"""Running a lab's spec: a list of check functions, each given the implementation.

A check passes by returning, and fails by raising ``AssertionError`` (a wrong
answer) or ``NotImplementedError`` (a stub not yet written). Any other exception
is reported as an error in the implementation, with its message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Check = Callable[[object], None]


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # "pass" | "fail" | "todo" | "error"
    message: str = ""


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.results)

    @property
    def all_passed(self) -> bool:
        return bool(self.results) and self.passed == len(self.results)

    def __str__(self) -> str:
        marks = {"pass": "PASS", "fail": "FAIL", "todo": "TODO", "error": "ERROR"}
        lines = [
            f"{marks[r.status]:5s} {r.name}" + (f": {r.message}" if r.message else "")
            for r in self.results
        ]
        lines.append(f"{self.passed}/{len(self.results)} checks pass")
        return "\n".join(lines)


def check_name(check: Check) -> str:
    return check.__name__.removeprefix("check_").replace("_", " ")


def run_spec(checks: Sequence[Check], impl: object) -> Report:
    """Run every check against ``impl`` and collect the results (never raises)."""
    report = Report()
    for check in checks:
        try:
            check(impl)
        except NotImplementedError as exc:
            report.results.append(
                Result(check_name(check), "todo", str(exc) or "not implemented yet")
            )
        except AssertionError as exc:
            report.results.append(Result(check_name(check), "fail", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a student's bug must not crash the grader
            report.results.append(
                Result(check_name(check), "error", f"{type(exc).__name__}: {exc}")
            )
        else:
            report.results.append(Result(check_name(check), "pass"))
    return report
