"""Reproduction: DistServe's M/D/1 model of the prefill queue (Zhong et al., OSDI 2024, sec. 3).

One prefill engine, one prompt at a time, fixed prompt length (deterministic service D),
Poisson arrivals: the mean TTFT is D + rho * D / (2 (1 - rho)) (Pollaczek-Khinchine).
The first token streams from prefill and outputs are 1 token, so TTFT is queue + prefill.

Tolerance: the simulated mean (20,000 requests, averaged over 2 seeds) within 3% at
rho = 0.3 and 0.5 and within 6% at rho = 0.7 (queues near saturation converge slowly).
"""

import numpy as np
import pytest

from labs_py.economics import prefill_queue_wait_s
from labs_py.sim.fleets import Disaggregated, simulate
from labs_py.sim.workload import make_workload
from labs_py.steptime import step_coefficients


@pytest.mark.parametrize("rho, tol", [(0.3, 0.03), (0.5, 0.03), (0.7, 0.06)])
def test_simulated_prefill_queue_matches_md1(rho, tol):
    d = step_coefficients("meta-llama/Llama-3.1-8B-Instruct").prefill_seconds(2048)
    fleet = Disaggregated(1, 1, proxy="first_token_from_prefill")
    sims = [
        simulate(fleet, make_workload(20_000, rho / d, 2048, 1, seed=s)).ttft_s.mean()
        for s in (0, 1)
    ]
    theory = d + prefill_queue_wait_s(d, rho)
    print(
        f"\nrho={rho}: simulated mean TTFT {np.mean(sims) * 1e3:.2f} ms, M/D/1 {theory * 1e3:.2f} ms"
    )
    assert np.mean(sims) == pytest.approx(theory, rel=tol)


def test_bursty_arrivals_wait_longer_than_poisson():
    d = step_coefficients("meta-llama/Llama-3.1-8B-Instruct").prefill_seconds(2048)
    fleet = Disaggregated(1, 1, proxy="first_token_from_prefill")
    poisson = simulate(
        fleet, make_workload(5000, 0.5 / d, 2048, 1, seed=0)
    ).ttft_s.mean()
    bursty = simulate(
        fleet, make_workload(5000, 0.5 / d, 2048, 1, arrival="gamma", cv=3.0, seed=0)
    ).ttft_s.mean()
    assert bursty > 2 * poisson
