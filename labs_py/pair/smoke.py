"""The real pair smoke test: build, start, compare token for token, prove the handoff, stop.

Steps (each prints a progress line):

1. build (or reuse) the tiny model;
2. start a single colocated instance, a producer, a consumer and the proxy, all at once;
3. send the same greedy prompts (100 to 2000 tokens) to the single instance and through the proxy;
4. check the outputs are identical token for token (**output invariance**);
5. check decode's ``/metrics``: ``local_compute`` = 0 and ``external_kv_transfer`` =
   the prompt tokens sent (**decode did not prefill**), and that NIXL moved bytes;
6. stop everything and check that no process of ours is left;
7. if this machine allows network namespaces (root, ``ip``, ``tc``): the pair again, in its
   namespaces, with the KV over a veth shaped to 0.25 Gb/s: one 2,000-token request, its wire
   time (NIXL's) within 25% of the economics' price, the KV seen on the veth's counters, and no
   namespace left afterwards. Without them it says SKIPPED and why.

Exit status 0 only if every check passed. ``python -m labs_py.pair smoke``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request

from labs_py.captures import metrics
from labs_py.captures.tiny_model import (
    TinyModelSpec,
    kv_block_bytes,
    kv_blocks_for_prompt,
)
from labs_py.pair import launch, loadgen
from labs_py.pair.config import (
    REPO_ROOT,
    STATE_DIR,
    PairConfig,
    instance_spec,
    pair_python,
    pair_specs,
    proxy_argv,
)
from labs_py.pair.scrape import scrape_counters
from labs_py.pair.tiny_model import build_tiny_model

PROMPT_LENGTHS = (100, 500, 1000, 2000)
MAX_TOKENS = 24


def _say(t0: float, msg: str) -> None:
    print(f"[smoke {time.time() - t0:5.0f}s] {msg}", flush=True)


def _non_streaming(
    url: str, model: str, prompt: list[int], max_tokens: int
) -> list[int]:
    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "ignore_eos": True,
        "return_token_ids": True,
    }
    req = urllib.request.Request(
        url + "/v1/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())["choices"][0]["token_ids"]


def run_smoke(cfg: PairConfig | None = None) -> int:
    """Run the smoke test (the module docstring lists its steps); return 0 only if every check held.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    cfg = cfg or PairConfig(single_cores=(0, 1))
    t0 = time.time()
    failures: list[str] = []
    _say(t0, "(1/7) building the tiny model (reused when unchanged)")
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    _say(
        t0,
        f"      {manifest['parameters']:,} parameters, {manifest['kv_bytes_per_token']} KV bytes/token",
    )
    py = str(pair_python())
    started: list[launch.Process] = []
    with launch.ProcessSet() as ps:
        _say(
            t0,
            "(2/7) starting single instance, prefill, decode and proxy (about a minute on 2 cores)",
        )
        specs = [instance_spec(cfg, "single", 0, py)] + pair_specs(cfg, py)
        for s in specs:
            started.append(
                ps.start(s.name, list(s.argv), s.port, s.env, cpus=s.affinity())
            )
        started.append(
            ps.start(
                "proxy",
                proxy_argv(cfg, py),
                cfg.proxy_port,
                {"PYTHONPATH": str(REPO_ROOT)},
            )
        )
        for p in started:
            launch.wait_ready(p, 600)
        _say(t0, "      all ready")

        _say(
            t0,
            f"(3/7) sending {len(PROMPT_LENGTHS)} prompts ({', '.join(map(str, PROMPT_LENGTHS))} tokens) "
            f"to the single instance and through the proxy",
        )
        single = asyncio.run(
            loadgen.run_sequential(
                cfg.url("single"),
                cfg.served_model_name,
                list(PROMPT_LENGTHS),
                MAX_TOKENS,
                seed=7,
                group="single",
                progress=False,
            )
        )
        before = scrape_counters(cfg.url("consumer"))
        pair = asyncio.run(
            loadgen.run_sequential(
                cfg.proxy_url(),
                cfg.served_model_name,
                list(PROMPT_LENGTHS),
                MAX_TOKENS,
                seed=7,
                group="pair",
                progress=False,
            )
        )
        prompt = loadgen.make_prompt(300, seed=11)
        ns_single = _non_streaming(
            cfg.url("single"), cfg.served_model_name, prompt, MAX_TOKENS
        )
        ns_pair = _non_streaming(
            cfg.proxy_url(), cfg.served_model_name, prompt, MAX_TOKENS
        )
        time.sleep(1.5)
        after = scrape_counters(cfg.url("consumer"))

        _say(
            t0,
            "(4/7) output invariance: greedy tokens through the pair vs the single instance",
        )
        for s, p in zip(single, pair):
            if s["status"] != "ok" or p["status"] != "ok":
                failures.append(
                    f"request {s['id']}: single={s['status']} {s['error']}, pair={p['status']} {p['error']}"
                )
            elif s["output_token_ids"] != p["output_token_ids"]:
                failures.append(
                    f"prompt of {s['prompt_tokens']} tokens: outputs differ\n  single {s['output_token_ids']}"
                    f"\n  pair   {p['output_token_ids']}"
                )
            else:
                _say(
                    t0,
                    f"      {s['prompt_tokens']:5d}-token prompt: {MAX_TOKENS} tokens identical "
                    f"(TTFT single {s['token_times_s'][0] * 1e3:.0f} ms, pair {p['token_times_s'][0] * 1e3:.0f} ms)",
                )
        if ns_single != ns_pair:
            failures.append(f"non-streaming outputs differ: {ns_single} vs {ns_pair}")
        else:
            _say(t0, "      non-streaming request: identical")
        if any(
            p.get("routed", {}).get("X-Pair-Prefill", "").startswith("fallback")
            for p in pair
        ):
            failures.append(
                "the proxy fell back to colocated decoding during the smoke test"
            )

        _say(t0, "(5/7) /metrics proof that decode did not prefill")
        d = metrics.delta(before, after)
        sent = sum(PROMPT_LENGTHS) + len(prompt)
        try:
            ev = metrics.assert_decode_did_not_prefill(d, sent)
            blocks = sum(
                kv_blocks_for_prompt(n, cfg.block_size_tokens)
                for n in (*PROMPT_LENGTHS, len(prompt))
            )
            _say(
                t0,
                f"      local_compute={ev['local_compute_tokens']}, external_kv_transfer="
                f"{ev['external_kv_transfer_tokens']} = {sent} prompt tokens sent; "
                f"{ev['nixl_transfers']} NIXL transfers, {ev['nixl_bytes_transferred']:,} bytes "
                f"(expected <= {blocks} blocks x {kv_block_bytes(cfg.block_size_tokens):,} B = "
                f"{blocks * kv_block_bytes(cfg.block_size_tokens):,} B)",
            )
            if ev["nixl_transfers"] < 1 or ev["nixl_bytes_transferred"] <= 0:
                failures.append("NIXL counters show no transfer")
        except metrics.ReprefillDetected as e:
            failures.append(str(e))

        _say(t0, "(6/7) stopping everything")
        watched = set()
        for p in started:
            watched |= {p.pid} | p.descendants
        errors = ps.stop_all()
        failures += errors
    left = [pid for pid in watched if launch._pid_alive(pid)]
    if left:
        failures.append(f"processes left behind: {left}")
    else:
        _say(t0, f"      stopped; none of the {len(watched)} processes started is left")
    failures += shaped_link_smoke(t0)
    (STATE_DIR / "smoke-last.json").write_text(
        json.dumps({"failures": failures, "seconds": time.time() - t0})
    )
    if failures:
        _say(t0, "FAILED:\n  " + "\n  ".join(failures))
        return 1
    _say(
        t0,
        "PASSED: pair output identical to the single instance; decode did not prefill; nothing left running",
    )
    return 0


#: The shaped-link check: one prompt over one slow rate, the wire within this of the economics' price.
SHAPED_RATE_GBPS = 0.25
SHAPED_PROMPT_TOKENS = 2000
SHAPED_TOLERANCE = 0.25


def shaped_link_smoke(t0: float) -> list[str]:
    """The pair in its namespaces over a shaped KV link: one request, wire vs prediction, nothing left.

    Skips visibly (and passes) without root, ``ip`` or ``tc``; with them, any failure fails the run.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    from labs_py import economics as econ
    from labs_py.pair import linksweep, netns, runs

    reason = netns.unavailable_reason()
    if reason:
        _say(t0, f"(7/7) shaped link: SKIPPED: {reason}")
        return []
    failures: list[str] = []
    _, changes, mode = runs.TOPOLOGIES["pair-netns"]
    cfg = PairConfig(**changes)
    _say(
        t0,
        f"(7/7) shaped link: the pair in namespaces, KV over a veth at {SHAPED_RATE_GBPS:g} Gb/s",
    )
    try:
        with runs.bring_up(cfg, mode) as run:
            runs.warm_up(run)
            run.net.shape(SHAPED_RATE_GBPS)
            r = linksweep.measure_request(
                run, SHAPED_PROMPT_TOKENS, 7, "shaped", "smoke"
            )
            if r["status"] != "ok":
                failures.append(f"shaped-link request failed: {r['error']}")
            else:
                wire = r["terms_ms"]["wire"]
                predicted = (
                    econ.transfer_seconds(r["nixl"]["bytes"], SHAPED_RATE_GBPS) * 1e3
                )
                err = wire / predicted - 1
                crossed = r["kv_link_bytes"]["producer_tx"]
                _say(
                    t0,
                    f"      wire {wire:.1f} ms measured (NIXL), {predicted:.1f} ms predicted ({err:+.1%}); "
                    f"{r['nixl']['bytes']:,} B moved, {crossed:,} B crossed the veth",
                )
                if abs(err) > SHAPED_TOLERANCE:
                    failures.append(
                        f"wire {wire:.1f} ms is {err:+.0%} off its prediction {predicted:.1f} ms"
                    )
                if crossed < r["nixl"]["bytes"]:
                    failures.append(
                        f"only {crossed:,} B crossed the veth for {r['nixl']['bytes']:,} B of KV"
                    )
    except (
        Exception
    ) as e:  # as root with ip and tc present, a failure to set up fails the run
        failures.append(f"shaped link: {type(e).__name__}: {e}")
    left = netns.ours()
    if left["netns"] or left["links"]:
        failures.append(f"namespaces left behind: {left}")
    else:
        _say(t0, "      namespaces removed: `ip netns list` has none of ours")
    return failures


if __name__ == "__main__":
    sys.exit(run_smoke())
