"""How fast is the serving simulator, and does it agree with DistServe's own?

    python benchmarks/sim_bench.py [--simdistserve PATH] [--n 10000]

Part 1 prints requests simulated per second for 10k-request runs of each arm
(Llama-3.1-8B on H100s, the book's default engine profile).

Part 2 runs DistServe's simulator, ``simdistserve`` (a simpy program in the public
repository github.com/LLMServe/DistServe), and ours on a workload both can express:
OPT-13B on A100-SXM with DistServe's *own* fitted step times (read from the
simdistserve folder at run time), no KV transfer cost, first token at the end of
prefill, prefills batched up to simdistserve's token limit, Poisson arrivals, fixed
lengths. It prints the speed ratio and the SLO attainment of both, side by side.
PATH is the folder that *contains* the ``simdistserve`` package (or set the
SIMDISTSERVE environment variable); the Python running this script needs simpy and
pandas for that part. Without them, part 2 is skipped and says why.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from labs_py.sim.fleets import Colocated, Disaggregated, simulate
from labs_py.sim.workload import Workload, make_workload

# --------------------------------------------------------------------------- part 1


def bench_arms(n: int) -> None:
    arms = [
        Colocated(2, chunk_tokens=512),
        Colocated(2, chunk_tokens=None),
        Colocated(1, tp=2, chunk_tokens=512),
        Disaggregated(1, 1, 200.0),
        Disaggregated(1, 1, 200.0, "first_token_from_prefill"),
        Disaggregated(2, 2, 200.0),
    ]
    w = make_workload(n, 8.0, 1024, 128, seed=0)
    simulate(arms[0], make_workload(50, 8.0, 1024, 128))  # warm the caches
    print(
        f"Part 1: {n} requests (1024-token prompts, 128-token outputs, Poisson 8/s), Llama-3.1-8B on H100-SXM"
    )
    print(f"{'arm':<36} {'seconds':>8} {'requests/s':>11} {'tokens/s':>11}")
    for f in arms:
        rate = 16.0 if f.gpus >= 4 else 8.0
        wl = w if rate == 8.0 else make_workload(n, rate, 1024, 128, seed=0)
        t = time.perf_counter()
        r = simulate(f, wl)
        r.summary()
        dt = time.perf_counter() - t
        print(f"{f.label:<36} {dt:8.2f} {n / dt:11,.0f} {n * 128 / dt:11,.0f}")


# --------------------------------------------------------------------------- part 2


class DistServeTimer:
    """simdistserve's step time (ms -> s): its fitted profile plus its simulated Ray overhead.

    Prefill step: ``a + b * sum(len) + c * sum(len^2)`` ms; decode step:
    ``a + b * sum(context + 1) + c * batch`` ms (small/large-batch coefficients);
    every step adds ``2 + 0.0001 * sum(context)`` ms (simdistserve's ``add_ray_overhead``).
    """

    def __init__(self, profile: dict, tp: int):
        self.p = profile[str(tp)]

    def __call__(
        self,
        prefill_tokens,
        prefill_pairs,
        prefill_sequences,
        decode_requests,
        decode_context_tokens,
    ):
        p = self.p
        if prefill_tokens > 0:
            a, b, c = p["prefill"]
            sq = (
                2.0 * prefill_pairs - prefill_tokens
            )  # whole prompts: pairs = sum n(n+1)/2
            return (a + b * prefill_tokens + c * sq + 2.0 + 1e-4 * prefill_tokens) / 1e3
        bs = decode_requests
        a, b, c = (
            p["decoding_smallbs"]
            if bs < p["decoding_large_small_bs_threshold"]
            else p["decoding_largebs"]
        )
        return (
            a
            + b * decode_context_tokens
            + c * bs
            + 2.0
            + 1e-4 * (decode_context_tokens - bs)
        ) / 1e3


def run_simdistserve(
    backend: str, arrival_s: np.ndarray, prompt: int, output: int, max_tokens: int
):
    import simpy
    from simdistserve.base.organize_data import (
        calculate_per_request_latency,
        organize_request_df,
        organize_request_event_df,
    )
    from simdistserve.base.request import Request
    from simdistserve.base.scheduler import put_requests_with_interarrivals
    from simdistserve.base.worker import WorkerConfig
    from simdistserve.clusters.disagg import DisaggCluster
    from simdistserve.clusters.vllm import VLLMCluster
    from simdistserve.constants import ModelTypes

    t0 = time.perf_counter()
    env = simpy.Environment()
    cfg = WorkerConfig(
        model_type=ModelTypes.opt_13b,
        TP=1,
        TP_Prefill=1,
        TP_Decode=1,
        prefill_max_batch_size=10**7,
        decode_max_batch_size=10**7,
        prefill_max_tokens=max_tokens,
        decode_max_tokens=max_tokens,
        enable_chunked_prefill=False,
        engine_type=backend,
    )
    if backend == "distserve":
        cluster = DisaggCluster(env=env, PP_prefill=1, PP_decode=1, worker_configs=cfg)
    else:
        cluster = VLLMCluster(env=env, PP=1, worker_configs=cfg)
    cluster.run()
    reqs = [
        Request(env=None, req_id=i, prefill_length=prompt, output_lens=output)
        for i in range(len(arrival_s))
    ]
    gaps_ms = np.diff(np.concatenate([[0.0], arrival_s])) * 1e3
    put_requests_with_interarrivals(env, cluster.scheduler, list(gaps_ms), reqs)
    env.run()
    t_sim = time.perf_counter() - t0
    lat = calculate_per_request_latency(
        organize_request_event_df(reqs), organize_request_df(reqs).output_lens
    )
    t_all = time.perf_counter() - t0
    return (
        lat["first_token_latency"].to_numpy() / 1e3,
        lat["tpot"].to_numpy() / 1e3,
        t_sim,
        t_all,
    )


def run_ours(
    backend: str,
    arrival_s: np.ndarray,
    prompt: int,
    output: int,
    max_tokens: int,
    profile: dict,
):
    t0 = time.perf_counter()
    n = len(arrival_s)
    # simdistserve's output_lens counts decode steps after the prefill's token: ours counts every token
    w = Workload(arrival_s, np.full(n, prompt), np.full(n, output + 1))
    timer = DistServeTimer(profile, 1)
    if backend == "distserve":
        fleet = Disaggregated(
            1,
            1,
            link_gbps=1e5,
            proxy="first_token_from_prefill",
            prefill_batch_tokens=max_tokens,
            max_batch=10**7,
        )
    else:
        fleet = Colocated(
            1, chunk_tokens=None, token_budget=max_tokens, max_batch=10**7
        )
    r = simulate(
        fleet,
        w,
        "meta-llama/Llama-3.1-8B-Instruct",
        "A100-SXM",
        timer_for=lambda tp: timer,
        kv_capacity_tokens=10**12,
    )
    ttft, tpot = r.ttft_s, r.tpot_s
    return ttft, tpot, time.perf_counter() - t0


def compare_with_simdistserve(
    root: Path, n: int, prompt: int, output: int, ttft_slo_s: float, tpot_slo_s: float
) -> None:
    sys.path.insert(0, str(root))
    prof_dir = root / "simdistserve" / "estimators" / "profile_data"
    rows: list[tuple[float, float, float]] = []
    max_tokens = 66144  # simdistserve's max_num_tokens for OPT-13B, TP1, PP1 (profile_data/max_num_tokens.csv)
    print(
        f"\nPart 2: ours vs simdistserve ({root}), OPT-13B on A100-SXM, {prompt}-token prompts, "
        f"{output} decode steps, Poisson; SLOs TTFT <= {ttft_slo_s * 1e3:g} ms and TPOT <= {tpot_slo_s * 1e3:g} ms"
    )
    for backend, rates in (
        ("distserve", (2.0, 4.0, 6.0, 8.0)),
        ("vllm", (1.0, 2.0, 3.0, 4.0)),
    ):
        profile = json.loads(
            (prof_dir / f"profiler-a100-80g.{backend}.json").read_text()
        )["facebook/opt-13b"]
        arm = (
            "1P1D (disaggregated)"
            if backend == "distserve"
            else "1 colocated vLLM engine (prefill-priority)"
        )
        print(f"\n  {backend}: {arm}")
        print(
            f"  {'rate/s':>6} {'n':>6} {'simdistserve s':>15} {'(sim only)':>11} {'ours s':>8} {'speed-up':>9} "
            f"{'(sim only)':>11} {'attain simd':>12} {'attain ours':>12} {'diff pts':>9}"
        )
        for rate in rates:
            rng = np.random.default_rng(0)
            arrival = np.concatenate(
                [[0.0], np.cumsum(rng.exponential(1.0 / rate, n - 1))]
            )
            s_ttft, s_tpot, s_sim, s_all = run_simdistserve(
                backend, arrival, prompt, output, max_tokens
            )
            o_ttft, o_tpot, o_all = run_ours(
                backend, arrival, prompt, output, max_tokens, profile
            )
            a_s = float(np.mean((s_ttft <= ttft_slo_s) & (s_tpot <= tpot_slo_s))) * 100
            a_o = float(np.mean((o_ttft <= ttft_slo_s) & (o_tpot <= tpot_slo_s))) * 100
            print(
                f"  {rate:6.1f} {n:6d} {s_all:15.2f} {s_sim:11.2f} {o_all:8.3f} {s_all / o_all:8.1f}x "
                f"{s_sim / o_all:10.1f}x {a_s:11.1f}% {a_o:11.1f}% {a_o - a_s:+9.1f}"
            )
            rows.append((s_all / o_all, s_sim / o_all, a_o - a_s))
    r = np.array(rows)
    print(
        f"\n  summary over {len(r)} runs: speed-up (with each side's metrics) min {r[:, 0].min():.1f}x, "
        f"median {np.median(r[:, 0]):.1f}x; simulation loop alone min {r[:, 1].min():.1f}x; "
        f"attainment difference max |{np.abs(r[:, 2]).max():.1f}| points"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--simdistserve",
        default=os.environ.get("SIMDISTSERVE"),
        help="folder containing the simdistserve package (default: $SIMDISTSERVE)",
    )
    ap.add_argument(
        "--n", type=int, default=10_000, help="requests per run (default 10000)"
    )
    ap.add_argument("--skip-arms", action="store_true", help="skip part 1")
    args = ap.parse_args()
    if not args.skip_arms:
        bench_arms(args.n)
    why = None
    if not args.simdistserve:
        why = "no location given (pass --simdistserve PATH or set SIMDISTSERVE)"
    elif not (Path(args.simdistserve) / "simdistserve" / "base" / "worker.py").exists():
        why = f"{args.simdistserve} does not contain simdistserve/base/worker.py"
    else:
        try:
            import pandas  # noqa: F401
            import simpy  # noqa: F401
        except ImportError as e:
            why = f"simdistserve needs simpy and pandas in this Python ({sys.executable}): {e}"
    if why:
        print(f"\nPart 2 SKIPPED: simdistserve comparison not run: {why}")
        return
    compare_with_simdistserve(Path(args.simdistserve), args.n, 512, 64, 0.2, 0.1)


if __name__ == "__main__":
    main()
