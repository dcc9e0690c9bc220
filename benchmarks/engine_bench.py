"""How fast is the chapter's engine? Prints throughput, export/import times, and the chapter's figure budget.

    python benchmarks/engine_bench.py            # about 20-40 s on 2 cores
    python benchmarks/engine_bench.py --quick    # fewer repeats, for a smoke run

Figures printed (best of several runs, so that other load on the machine shows less):

1. **prefill throughput**, tokens/s, for one prompt of 32, 128 and 512 tokens;
2. **decode throughput**, tokens/s, for batches of 1, 4 and 16 requests (64-token prompts);
3. **export / import time** against prompt length, for each recovery strategy: ``ship``
   copies the KV, ``recompute`` re-prefills it on the destination;
4. **the chapter's sliders**: time for one migration trace and one figure, and for the
   whole grid of slider settings that the static page precomputes.

The engine is numpy at toy width (2 layers, 64 wide, 4 query heads on 2 KV heads), with
batch-invariant reductions, so these numbers say nothing about a GPU; they bound how
long the chapter's cells take.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time

import numpy as np
from tqdm import tqdm

from labs_py.engine import Engine, SamplingParams, TinyModel
from labs_py.engine.kvcache import blocks_needed
from labs_py.engine.migration import STRATEGIES, export_request, import_request
from labs_py.engine.trace import trace_migration

MODEL = TinyModel()
RNG = np.random.default_rng(0)


def best_and_median(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def prompt(n: int) -> list[int]:
    return RNG.integers(0, MODEL.config.vocab_size, size=n).tolist()


def bench_prefill(lengths, repeats, bar) -> list[tuple[int, float, float]]:
    rows = []
    for n in lengths:
        p = prompt(n)

        def run(n=n, p=p):
            e = Engine(
                MODEL,
                num_blocks=blocks_needed(n + 1, 16),
                block_size_tokens=16,
                max_batch_tokens=n,
            )
            e.add_request(p, SamplingParams(max_new_tokens=1))
            e.step()

        best, med = best_and_median(run, repeats)
        rows.append((n, n / best, n / med))
        bar.update(1)
    return rows


def bench_decode(batches, steps, repeats, bar) -> list[tuple[int, float, float]]:
    rows = []
    for b in batches:
        e = Engine(
            MODEL,
            num_blocks=blocks_needed(64 + steps * repeats + 2, 16) * b,
            block_size_tokens=16,
            max_batch_tokens=64 * b,
        )
        for i in range(b):
            e.add_request(
                prompt(64), SamplingParams(max_new_tokens=steps * repeats + 1), f"r{i}"
            )
        e.step()  # prefill all

        def run(e=e):
            for _ in range(steps):
                e.step()

        best, med = best_and_median(run, repeats)
        rows.append((b, b * steps / best, b * steps / med))
        bar.update(1)
    return rows


def bench_move(lengths, repeats, bar) -> list[tuple[int, str, float, float, int]]:
    rows = []
    for n, strategy in itertools.product(lengths, STRATEGIES):
        p = prompt(n)
        exp_t, imp_t = [], []
        payload = 0
        for _ in range(repeats):
            src = Engine(
                MODEL,
                num_blocks=blocks_needed(n + 4, 16),
                block_size_tokens=16,
                max_batch_tokens=n,
            )
            dst = Engine(
                MODEL, num_blocks=blocks_needed(n + 4, 16), block_size_tokens=16
            )
            src.add_request(p, SamplingParams(max_new_tokens=3), "r")
            src.step()
            t0 = time.perf_counter()
            snap = export_request(src, "r", strategy)
            t1 = time.perf_counter()
            import_request(dst, snap)
            t2 = time.perf_counter()
            exp_t.append(t1 - t0)
            imp_t.append(t2 - t1)
            payload = snap.payload_bytes
        rows.append((n, strategy, min(exp_t), min(imp_t), payload))
        bar.update(1)
    return rows


def bench_chapter(bar) -> dict[str, float]:
    """Every setting of the chapter's main panel (``labs_py.chapters.moving_a_live_request.panels.move``): the grid the
    static page precomputes, traced and drawn one by one from a cold cache."""
    from labs_py.chapters.moving_a_live_request import panels

    trace_migration.cache_clear()
    ex = panels.move()
    trace_times, draw_times = [], []
    t_all = time.perf_counter()
    for values in ex.combinations():
        t0 = time.perf_counter()
        tr = trace_migration(**values)
        t1 = time.perf_counter()
        ex.spec(**values)
        t2 = time.perf_counter()
        assert tr.identical, values
        trace_times.append(t1 - t0)
        draw_times.append(t2 - t1)
    total = time.perf_counter() - t_all
    bar.update(1)
    return {
        "settings": ex.n_combinations,
        "trace_median_ms": statistics.median(trace_times) * 1e3,
        "trace_max_ms": max(trace_times) * 1e3,
        "draw_median_ms": statistics.median(draw_times) * 1e3,
        "grid_total_s": total,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="fewer repeats and sizes (a smoke run)"
    )
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else 7
    prefill_lengths = (32, 128) if args.quick else (32, 128, 512)
    batches = (1, 4) if args.quick else (1, 4, 16)
    move_lengths = (16, 64, 256) if args.quick else (16, 64, 256, 1024)

    t_start = time.perf_counter()
    total = (
        len(prefill_lengths) + len(batches) + len(move_lengths) * len(STRATEGIES) + 1
    )
    with tqdm(
        total=total, desc="engine benchmark", unit="case", file=sys.stderr
    ) as bar:
        pre = bench_prefill(prefill_lengths, repeats, bar)
        dec = bench_decode(batches, steps=8, repeats=repeats, bar=bar)
        mov = bench_move(move_lengths, repeats, bar)
        chap = bench_chapter(bar)
    elapsed = time.perf_counter() - t_start

    c = MODEL.config
    print(
        f"toy model: {c.num_layers} layers, hidden {c.hidden_size}, {c.num_heads} query heads on "
        f"{c.num_kv_heads} KV heads "
        f"x {c.head_dim}, vocab {c.vocab_size}; KV {c.kv_bytes_per_token} bytes/token (float32)"
    )
    print("\nprefill throughput (one prompt per step; best / median of runs)")
    for n, best, med in pre:
        print(f"  {n:5d}-token prompt: {best:8.0f} tokens/s   (median {med:8.0f})")
    print("\ndecode throughput (64-token prompts, 8 steps per run)")
    for b, best, med in dec:
        print(f"  batch {b:3d}: {best:8.0f} tokens/s   (median {med:8.0f})")
    print("\nexport / import time vs prompt length (block size 16, best of runs)")
    print(
        f"  {'tokens':>6} {'strategy':>18} {'export ms':>10} {'import ms':>10} {'KV shipped':>12}"
    )
    for n, s, e, i, payload in mov:
        print(
            f"  {n:6d} {s:>18} {e * 1e3:10.3f} {i * 1e3:10.3f} {payload / 1024:9.1f} KiB"
        )
    print(
        "\nthe chapter's sliders (trace = run both engines once; draw = build the plotly spec)"
    )
    print(
        f"  {chap['settings']} slider settings: trace median {chap['trace_median_ms']:.1f} ms "
        f"(max {chap['trace_max_ms']:.1f} ms), draw median {chap['draw_median_ms']:.2f} ms, "
        f"whole grid {chap['grid_total_s']:.1f} s"
    )
    print(f"\nbenchmark wall time: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
