"""Failure drills on the real pair, each scripted, run and captured (two more, on the KV link, are in
:mod:`labs_py.pair.linkdrills`: ``link-down`` and ``link-drop``).

``kill-decode``
    SIGKILL the decode instance while two streams are running. The clients get
    an explicit error event from the proxy, not a silently truncated answer.
    Requests sent afterwards still prefill on the producer, whose decode leg
    then fails; the producer holds their KV blocks until the lease
    (``kv_lease_duration``, 10 s in the drill) runs out, then releases them:
    ``vllm:nixl_num_kv_expired_reqs`` rises and KV usage falls back.
``kill-prefill``
    SIGKILL the producer. The proxy falls back to colocated decoding: the same
    prompts complete with the same tokens, and decode's ``local_compute``
    counter shows it prefilled them itself.
``mismatch``
    Start the two sides with configurations that disagree (block size 32 vs
    64; dtype float32 vs bfloat16), and one side with a ``kv_transfer_config``
    this vLLM rejects; record what each side and the client see.
``forget-kv-params``
    A proxy that does not forward ``kv_transfer_params``: outputs still match a
    correct proxy's token for token, but decode's metrics expose the silent
    re-prefill and :func:`labs_py.captures.metrics.assert_decode_did_not_prefill` fails.

Each drill writes ``captures/pair/drill__NAME.json`` with the client-side
records, the metrics timelines, log excerpts and a verdict per expectation.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request

from labs_py.captures import capture as cap
from labs_py.captures import metrics
from labs_py.captures.tiny_model import TinyModelSpec
from labs_py.pair import contention, launch, loadgen
from labs_py.pair.config import (
    MEASURE_NICENESS,
    REPO_ROOT,
    PairConfig,
    apply_niceness,
    instance_spec,
    pair_python,
    proxy_argv,
)
from labs_py.pair.scrape import scrape_counters
from labs_py.pair.tiny_model import build_tiny_model

LEASE_S = 10
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_INTERESTING = re.compile(
    r"ERROR|Error|error|Exception|mismatch|incompatib|not supported|Invalid|invalid|"
    r"expired|Releasing|failed|Failed|refus",
    re.I,
)


def _log_excerpt(proc: launch.Process, limit: int = 25) -> list[str]:
    try:
        lines = proc.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    keep = [
        _ANSI.sub("", ln)[:400]
        for ln in lines
        if _INTERESTING.search(ln)
        and "FutureWarning" not in ln
        and "ulimit" not in ln
        and "reduce_op" not in ln
    ]
    return keep[-limit:]


def _post(url: str, body: dict, timeout_s: float = 120) -> tuple[int, dict | str]:
    req = urllib.request.Request(
        url + "/v1/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:2000]
    except (urllib.error.URLError, OSError) as e:
        return 0, f"{type(e).__name__}: {e}"


def _start(
    ps: launch.ProcessSet, specs, proxies: dict[str, list[str]]
) -> dict[str, launch.Process]:
    procs = {
        s.name: ps.start(s.name, list(s.argv), s.port, s.env, cpus=s.affinity())
        for s in specs
    }
    for name, argv in proxies.items():
        port = int(argv[argv.index("--port") + 1])
        procs[name] = ps.start(name, argv, port, {"PYTHONPATH": str(REPO_ROOT)})
    for p in procs.values():
        launch.wait_ready(p, 600)
    return procs


def _seq(
    url: str,
    cfg: PairConfig,
    lengths: list[int],
    max_tokens: int,
    seed: int,
    group: str,
) -> list[dict]:
    return asyncio.run(
        loadgen.run_sequential(
            url,
            cfg.served_model_name,
            lengths,
            max_tokens,
            seed=seed,
            group=group,
            progress=False,
        )
    )


def _write(
    name: str,
    description: str,
    cfg: PairConfig,
    topology: dict,
    workload: dict,
    reqs: list[dict],
    mets: dict,
    drill: dict,
    manifest: dict,
    window: contention.Window | None,
) -> str:
    c = cap.new_capture(
        label=f"drill__{name}",
        kind="drill",
        description=description,
        command=f".venv-pair/bin/python -m labs_py.pair drill {name}",
        config={**cfg.to_dict(), "topology": topology},
        workload=workload,
        requests=reqs,
        metrics=mets,
        model=manifest,
        drill=drill,
        contention={"during_run": window.close() if window else None},
    )
    return str(cap.write_capture(c, cap.CAPTURE_DIR / f"drill__{name}.json"))


# ---- drill 1: kill decode mid-stream ------------------------------------------------------
def drill_kill_decode() -> str:
    """The kill-decode drill: SIGKILL the consumer mid-stream; record what clients see and the lease.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    cfg = PairConfig(kv_lease_duration_s=LEASE_S, niceness=MEASURE_NICENESS)
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    py = str(pair_python())
    specs = [
        instance_spec(cfg, "producer", 0, py),
        instance_spec(cfg, "consumer", 0, py),
    ]
    with launch.ProcessSet(MEASURE_NICENESS) as ps:
        procs = _start(ps, specs, {"proxy": proxy_argv(cfg, py)})
        _seq(cfg.proxy_url(), cfg, [64, 300], 4, 999, "warmup")
        window = contention.Window([p.pid for p in procs.values()])
        p_url, t0 = cfg.url("producer"), time.monotonic()
        p_before = scrape_counters(p_url)

        async def scenario():
            import aiohttp

            async with aiohttp.ClientSession() as s:
                run_t0 = time.perf_counter()
                streams = [
                    asyncio.create_task(
                        loadgen.stream_completion(
                            s,
                            cfg.proxy_url(),
                            cfg.served_model_name,
                            loadgen.make_prompt(200, 50 + i),
                            2000,
                            f"stream-{i}",
                            "killed-stream",
                            run_t0,
                        )
                    )
                    for i in range(2)
                ]
                # wait until decode has produced a few dozen tokens, then kill it
                deadline = time.monotonic() + 120
                d_url = cfg.url("consumer")
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    try:
                        if scrape_counters(d_url)["generation_tokens"] >= 60:
                            break
                    except OSError:
                        pass
                launch.kill_hard(procs["decode0"])
                killed_at = time.monotonic() - t0
                recs = list(await asyncio.gather(*streams))
                after = [
                    await loadgen.stream_completion(
                        s,
                        cfg.proxy_url(),
                        cfg.served_model_name,
                        loadgen.make_prompt(1500, 70 + j),
                        16,
                        f"after-{j}",
                        "sent-after-kill",
                        run_t0,
                    )
                    for j in range(2)
                ]
                return recs + after, killed_at

        reqs, killed_at = asyncio.run(scenario())
        timeline = []
        poked = False
        end = time.monotonic() + LEASE_S + 20
        while time.monotonic() < end:
            c = scrape_counters(p_url)
            timeline.append(
                {
                    "t_s": round(time.monotonic() - t0, 2),
                    "kv_cache_usage_perc": c["kv_cache_usage_perc"],
                    "nixl_kv_expired_reqs": c["nixl_kv_expired_reqs"]
                    - p_before["nixl_kv_expired_reqs"],
                    "num_requests_running": c["num_requests_running"],
                }
            )
            if timeline[-1]["nixl_kv_expired_reqs"] >= 2:
                break
            if not poked and time.monotonic() - t0 > killed_at + LEASE_S + 8:
                # an idle engine does not step, and expiry is checked on a step: give it one
                _post(
                    p_url,
                    {
                        "model": cfg.served_model_name,
                        "prompt": [5, 6, 7],
                        "max_tokens": 1,
                    },
                )
                poked = True
            time.sleep(1.0)
        p_after = scrape_counters(p_url)
        excerpts = {
            "prefill0": _log_excerpt(procs["prefill0"]),
            "decode0": _log_excerpt(procs["decode0"]),
            "proxy": _log_excerpt(procs["proxy"]),
        }
        topo = {
            "mode": "pair",
            "instances": [s.to_dict() for s in specs],
            "proxy_argv": proxy_argv(cfg, py),
        }
    streams = [r for r in reqs if r["group"] == "killed-stream"]
    after = [r for r in reqs if r["group"] == "sent-after-kill"]
    expired = p_after["nixl_kv_expired_reqs"] - p_before["nixl_kv_expired_reqs"]
    drill = {
        "killed_decode_at_s": round(killed_at, 2),
        "kv_lease_duration_s": LEASE_S,
        "client_saw": [
            {
                "id": r["id"],
                "status": r["status"],
                "tokens_before_error": len(r["output_token_ids"]),
                "error": r["error"],
                "http_status": r["http_status"],
            }
            for r in reqs
        ],
        "prefill_timeline": timeline,
        "poked_prefill_after_lease": poked,
        "prefill_expired_reqs_delta": expired,
        "expectations": {
            "streams_end_with_an_explicit_error": all(
                r["status"] == "error" and "died mid-stream" in (r["error"] or "")
                for r in streams
            ),
            "a_stream_was_cut_mid_answer": any(
                len(r["output_token_ids"]) > 0 for r in streams
            ),
            "later_requests_get_502_unreachable": all(
                r["http_status"] == 502 for r in after
            ),
            "prefill_released_blocks_by_lease_expiry": expired >= len(after),
        },
        "log_excerpts": excerpts,
    }
    mets = {
        "prefill0": {
            "before": p_before,
            "after": p_after,
            "delta": metrics.delta(p_before, p_after),
        }
    }
    return _write(
        "kill-decode",
        "Kill the decode instance (SIGKILL) while two streams run; then send two more "
        "requests. What the clients see, and the producer releasing the orphaned KV blocks when "
        f"their {LEASE_S} s lease expires.",
        cfg,
        topo,
        {
            "streams": 2,
            "stream_prompt_tokens": 200,
            "stream_max_tokens": 2000,
            "after_kill": 2,
            "after_prompt_tokens": 1500,
        },
        reqs,
        mets,
        drill,
        manifest,
        window,
    )


# ---- drill 2: kill prefill -------------------------------------------------------------------
def drill_kill_prefill() -> str:
    """The kill-prefill drill: SIGKILL the producer; requests fall back to decode prefilling itself.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    # prefix caching off: the same prompts are sent before and after the kill, and with the
    # cache on, decode would find most of their KV already cached (local_cache_hit), which
    # hides the recomputation this drill is about
    cfg = PairConfig(niceness=MEASURE_NICENESS, enable_prefix_caching=False)
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    py = str(pair_python())
    specs = [
        instance_spec(cfg, "producer", 0, py),
        instance_spec(cfg, "consumer", 0, py),
    ]
    lengths = [500, 1000, 1500]
    with launch.ProcessSet(MEASURE_NICENESS) as ps:
        procs = _start(ps, specs, {"proxy": proxy_argv(cfg, py)})
        _seq(cfg.proxy_url(), cfg, [64, 300], 4, 999, "warmup")
        window = contention.Window([p.pid for p in procs.values()])
        d_url = cfg.url("consumer")
        d0 = scrape_counters(d_url)
        before = _seq(cfg.proxy_url(), cfg, lengths, 24, 21, "before-kill")
        time.sleep(1.5)
        d1 = scrape_counters(d_url)
        launch.kill_hard(procs["prefill0"])
        time.sleep(1.0)
        after = _seq(cfg.proxy_url(), cfg, lengths, 24, 21, "after-kill")
        time.sleep(1.5)
        d2 = scrape_counters(d_url)
        excerpts = {
            "proxy": _log_excerpt(procs["proxy"]),
            "decode0": _log_excerpt(procs["decode0"]),
        }
        topo = {
            "mode": "pair",
            "instances": [s.to_dict() for s in specs],
            "proxy_argv": proxy_argv(cfg, py),
        }
    sent = sum(lengths)
    phase1, phase2 = metrics.delta(d0, d1), metrics.delta(d1, d2)
    try:
        metrics.assert_decode_did_not_prefill(phase2, sent)
        proof_after = "passed (unexpected)"
    except metrics.ReprefillDetected as e:
        proof_after = f"failed as expected: {e}"
    drill = {
        "routed_after_kill": [r["routed"].get("X-Pair-Prefill") for r in after],
        "outputs_identical_before_and_after": [
            b["output_token_ids"] == a["output_token_ids"]
            for b, a in zip(before, after)
        ],
        "decode_delta_before_kill": phase1,
        "decode_delta_after_kill": phase2,
        "proof_after_kill": proof_after,
        "expectations": {
            "all_requests_complete_after_kill": all(r["status"] == "ok" for r in after),
            "proxy_fell_back": all(
                (r["routed"].get("X-Pair-Prefill") or "").startswith("fallback")
                for r in after
            ),
            "same_tokens_as_through_the_pair": all(
                b["output_token_ids"] == a["output_token_ids"]
                for b, a in zip(before, after)
            ),
            "decode_prefilled_locally_after_kill": phase2["prompt_tokens_local_compute"]
            == sent,
            "decode_received_kv_before_kill": phase1[
                "prompt_tokens_external_kv_transfer"
            ]
            == sent,
        },
        "log_excerpts": excerpts,
    }
    mets = {"decode0": {"before": d0, "after": d2, "delta": metrics.delta(d0, d2)}}
    return _write(
        "kill-prefill",
        "Kill the prefill instance (SIGKILL) between two identical batches of "
        "prompts: the proxy falls back to colocated decoding; outputs and decode's counters.",
        cfg,
        topo,
        {"prompt_lengths": lengths, "max_tokens": 24},
        before + after,
        mets,
        drill,
        manifest,
        window,
    )


# ---- drill 3: mismatched configuration -----------------------------------------------------------
def _mismatch_case(name: str, cfg_p: PairConfig, cfg_d: PairConfig, py: str) -> dict:
    specs = [
        instance_spec(cfg_p, "producer", 0, py),
        instance_spec(cfg_d, "consumer", 0, py),
    ]
    out: dict = {
        "case": name,
        "producer_argv": list(specs[0].argv),
        "consumer_argv": list(specs[1].argv),
    }
    with launch.ProcessSet(MEASURE_NICENESS) as ps:
        procs = {
            s.name: ps.start(s.name, list(s.argv), s.port, s.env, cpus=s.affinity())
            for s in specs
        }
        procs["proxy"] = ps.start(
            "proxy",
            proxy_argv(cfg_p, py),
            cfg_p.proxy_port,
            {"PYTHONPATH": str(REPO_ROOT)},
        )
        startup = {}
        for n, p in procs.items():
            try:
                startup[n] = {
                    "ready": True,
                    "seconds": round(launch.wait_ready(p, 300, progress=False), 1),
                }
            except launch.LaunchError as e:
                startup[n] = {"ready": False, "error": str(e).splitlines()[0]}
        out["startup"] = startup
        if all(v["ready"] for v in startup.values()):
            d0 = scrape_counters(cfg_d.url("consumer"))
            ref_prompt = loadgen.make_prompt(700, 33)
            status, body = _post(
                cfg_p.proxy_url(),
                {
                    "model": cfg_p.served_model_name,
                    "prompt": ref_prompt,
                    "max_tokens": 16,
                    "temperature": 0,
                    "ignore_eos": True,
                    "return_token_ids": True,
                },
                timeout_s=120,
            )
            time.sleep(2.0)
            d1 = scrape_counters(cfg_d.url("consumer"))
            got = (
                body["choices"][0].get("token_ids") if isinstance(body, dict) else None
            )
            out["client"] = {
                "http_status": status,
                "token_ids": got,
                "error": None if isinstance(body, dict) else body,
            }
            out["decode_delta"] = metrics.delta(d0, d1)
            # reference: the producer alone, colocated (no kv_transfer_params), same prompt
            rs, rb = _post(
                cfg_p.url("producer"),
                {
                    "model": cfg_p.served_model_name,
                    "prompt": ref_prompt,
                    "max_tokens": 16,
                    "temperature": 0,
                    "ignore_eos": True,
                    "return_token_ids": True,
                },
                timeout_s=120,
            )
            ref = rb["choices"][0].get("token_ids") if isinstance(rb, dict) else None
            out["reference_token_ids"] = ref
            out["output_matches_colocated_reference"] = (
                (got == ref) if got is not None else None
            )
        out["log_excerpts"] = {n: _log_excerpt(p, 15) for n, p in procs.items()}
    return out


def drill_mismatch() -> str:
    """The mismatch drill: producer and consumer that disagree (block size, dtype, role).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    base = PairConfig(niceness=MEASURE_NICENESS)
    manifest = build_tiny_model(base.model_dir, TinyModelSpec(seed=base.seed))
    py = str(pair_python())
    cases = [
        _mismatch_case(
            "block_size 32 (producer) vs 64 (consumer)",
            base,
            base.replace(block_size_tokens=64),
            py,
        ),
        _mismatch_case(
            "dtype float32 (producer) vs bfloat16 (consumer)",
            base,
            base.replace(dtype="bfloat16"),
            py,
        ),
        _rejected_role_case(base, py),
    ]
    topo = {"mode": "pair", "cases": [c["case"] for c in cases]}
    drill = {"cases": cases}
    return _write(
        "mismatch",
        "Start producer and consumer with configurations that disagree (block size, "
        "dtype) and with a kv_transfer_config vLLM rejects; what each side and the client see.",
        base,
        topo,
        {"prompt_tokens": 700, "max_tokens": 16},
        [],
        {},
        drill,
        manifest,
        None,
    )


def _rejected_role_case(cfg: PairConfig, py: str) -> dict:
    spec = instance_spec(cfg, "producer", 0, py)
    argv = list(spec.argv)
    i = argv.index("--kv-transfer-config") + 1
    kv = json.loads(argv[i])
    kv["kv_role"] = "kv_prefill"
    argv[i] = json.dumps(kv, sort_keys=True)
    out: dict = {
        "case": "kv_role 'kv_prefill' (not one of vLLM's roles) on the producer",
        "producer_argv": argv,
    }
    with launch.ProcessSet(MEASURE_NICENESS) as ps:
        p = ps.start("prefill0", argv, spec.port, spec.env, cpus=spec.affinity())
        try:
            launch.wait_ready(p, 300, progress=False)
            out["startup"] = {"prefill0": {"ready": True}}
        except launch.LaunchError as e:
            out["startup"] = {
                "prefill0": {"ready": False, "error": str(e).splitlines()[0]}
            }
        out["log_excerpts"] = {"prefill0": _log_excerpt(p, 15)}
    return out


# ---- drill 4: a proxy that forgets kv_transfer_params ---------------------------------------------
def drill_forget_kv_params() -> str:
    """The forgetful-proxy drill: the answer is right, and only decode's counters show it re-prefilled.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    # prefix caching off, for the same reason as in drill_kill_prefill: both proxies send the same prompts
    cfg = PairConfig(
        kv_lease_duration_s=LEASE_S,
        niceness=MEASURE_NICENESS,
        enable_prefix_caching=False,
    )
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    py = str(pair_python())
    specs = [
        instance_spec(cfg, "producer", 0, py),
        instance_spec(cfg, "consumer", 0, py),
    ]
    buggy = cfg.replace(proxy_port=cfg.proxy_port + 1)
    lengths = [500, 1000, 2000]
    with launch.ProcessSet(MEASURE_NICENESS) as ps:
        procs = _start(
            ps,
            specs,
            {
                "proxy": proxy_argv(cfg, py),
                "proxy-buggy": proxy_argv(buggy, py, forward_kv_params=False),
            },
        )
        _seq(cfg.proxy_url(), cfg, [64, 300], 4, 999, "warmup")
        window = contention.Window([p.pid for p in procs.values()])
        d_url, p_url = cfg.url("consumer"), cfg.url("producer")
        d0, p0 = scrape_counters(d_url), scrape_counters(p_url)
        good = _seq(cfg.proxy_url(), cfg, lengths, 24, 41, "correct-proxy")
        time.sleep(1.5)
        d1 = scrape_counters(d_url)
        bad = _seq(buggy.proxy_url(), cfg, lengths, 24, 41, "forgetful-proxy")
        time.sleep(1.5)
        d2 = scrape_counters(d_url)
        time.sleep(LEASE_S + 3)
        _post(
            p_url,
            {"model": cfg.served_model_name, "prompt": [5, 6, 7], "max_tokens": 1},
        )  # one engine step
        time.sleep(2.0)
        p1 = scrape_counters(p_url)
        topo = {
            "mode": "pair",
            "instances": [s.to_dict() for s in specs],
            "proxy_argv": proxy_argv(cfg, py),
            "buggy_proxy_argv": proxy_argv(buggy, py, False),
        }
    sent = sum(lengths)
    good_d, bad_d = metrics.delta(d0, d1), metrics.delta(d1, d2)
    verdicts = {}
    for name, d in (("correct_proxy", good_d), ("forgetful_proxy", bad_d)):
        try:
            metrics.assert_decode_did_not_prefill(d, sent)
            verdicts[name] = "passed"
        except metrics.ReprefillDetected as e:
            verdicts[name] = f"failed: {e}"
    drill = {
        "outputs_identical": [
            g["output_token_ids"] == b["output_token_ids"] for g, b in zip(good, bad)
        ],
        "decode_delta_correct_proxy": good_d,
        "decode_delta_forgetful_proxy": bad_d,
        "proof": verdicts,
        "prefill_expired_reqs_delta": p1["nixl_kv_expired_reqs"]
        - p0["nixl_kv_expired_reqs"],
        "expectations": {
            "outputs_identical": all(
                g["output_token_ids"] == b["output_token_ids"]
                for g, b in zip(good, bad)
            ),
            "proof_passes_with_correct_proxy": verdicts["correct_proxy"] == "passed",
            "proof_fails_with_forgetful_proxy": verdicts["forgetful_proxy"].startswith(
                "failed"
            ),
            "decode_recomputed_every_prompt_token": bad_d["prompt_tokens_local_compute"]
            == sent,
            "orphaned_prefill_blocks_expire": p1["nixl_kv_expired_reqs"]
            - p0["nixl_kv_expired_reqs"]
            >= len(lengths),
        },
    }
    mets = {
        "decode0": {"before": d0, "after": d2, "delta": metrics.delta(d0, d2)},
        "prefill0": {"before": p0, "after": p1, "delta": metrics.delta(p0, p1)},
    }
    return _write(
        "forget-kv-params",
        "A proxy that runs the prefill leg but does not forward kv_transfer_params, "
        "beside a correct one, on the same pair: same tokens, but decode re-prefills and the proof fails.",
        cfg,
        topo,
        {"prompt_lengths": lengths, "max_tokens": 24},
        good + bad,
        mets,
        drill,
        manifest,
        window,
    )


DRILLS = {
    "kill-decode": drill_kill_decode,
    "kill-prefill": drill_kill_prefill,
    "mismatch": drill_mismatch,
    "forget-kv-params": drill_forget_kv_params,
}


def run_drill(name: str) -> str:
    """Run the drill ``name`` (a key of :data:`DRILLS`) and return the path of its capture.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if name not in DRILLS:
        raise ValueError(
            f"unknown drill {name!r}; expected one of {sorted(DRILLS)} or 'all'"
        )
    apply_niceness(MEASURE_NICENESS)
    return DRILLS[name]()
