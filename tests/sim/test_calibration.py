"""Model vs reference: the errors of the step-time model, printed, with tolerances.

Run with ``pytest -s tests/sim/test_calibration.py`` to see the tables.

Tolerances (relative error of the fitted engine profile on its reference set):
* DistServe's engine on A100 (42 points, OPT-13B TP1/2/4, OPT-66B TP2/4/8): RMS <= 12%, worst <= 25%;
* vLLM on A100 (same shapes): RMS <= 18%, worst <= 50% (one fit, OPT-66B TP2 decode, is erratic);
* the seeds' L4 capture is *validation*, never fitted: ITL p50 within 50%; TTFT is not a step time
  (it includes HTTP, tokenisation and queueing at the benchmark's rate), so the model only has to
  stay below it.
"""

import numpy as np
import pytest

from labs_py.steptime import calibration as cal

TOLERANCES = {"distserve-a100": (0.12, 0.25), "vllm-a100": (0.18, 0.50)}


@pytest.mark.parametrize("reference_set", sorted(TOLERANCES))
def test_fitted_profile_matches_its_references(reference_set):
    rows = cal.calibration_table(reference_set, reference_set)
    print(f"\n{reference_set} profile vs its references\n" + cal.format_table(rows))
    err = np.array([r.error for r in rows])
    rms_tol, worst_tol = TOLERANCES[reference_set]
    assert len(rows) == 42
    assert np.sqrt((err**2).mean()) <= rms_tol
    assert np.abs(err).max() <= worst_tol


def test_the_plain_roofline_is_far_off_and_calibration_is_what_closes_the_gap():
    ideal = np.array(
        [r.error for r in cal.calibration_table("roofline", "distserve-a100")]
    )
    fitted = np.array(
        [r.error for r in cal.calibration_table("distserve-a100", "distserve-a100")]
    )
    print(
        f"\nroofline RMS {np.sqrt((ideal**2).mean()):.1%} vs fitted {np.sqrt((fitted**2).mean()):.1%}"
    )
    assert np.sqrt((ideal**2).mean()) > 3 * np.sqrt((fitted**2).mean())
    assert np.all(ideal < 0)  # an ideal engine is faster than any real one


def test_seed_capture_validation():
    rows = cal.calibration_table("h100-serving", "seed-l4", "validation")
    print(
        "\nseeds' 2xL4 capture (validation, not fitted), h100-serving profile\n"
        + cal.format_table(rows)
    )
    itl, ttft = rows
    assert abs(itl.error) <= 0.50
    assert ttft.model_s < ttft.reference_s


def test_reference_models_have_the_right_size():
    assert cal.reference_model("facebook/opt-13b").params_total() == pytest.approx(
        12.85e9, rel=0.02
    )
    assert cal.reference_model("facebook/opt-66b").params_total() == pytest.approx(
        65.7e9, rel=0.02
    )
