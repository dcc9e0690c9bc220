"""Read vLLM's ``/metrics`` and prove that decode did not prefill.

The proof rests on one counter of vLLM v1, ``vllm:prompt_tokens_by_source``,
which splits every prompt token an engine admitted by where its KV came from:

* ``local_compute``: the engine ran the prompt through the model itself;
* ``local_cache_hit``: its own prefix cache already held the KV;
* ``external_kv_transfer``: the KV arrived over the connector (NIXL).

On a decode instance of a healthy pair, ``local_compute`` stays 0 and
``external_kv_transfer`` grows by exactly the prompt tokens sent. A proxy that
forgets ``kv_transfer_params`` still gets correct text (decode silently
prefills the prompt again), so output checks cannot catch it; this counter can,
and :func:`assert_decode_did_not_prefill` fails on it.

The NIXL counters price the transfers (decode side: transfer time, bytes,
descriptors, failures; producer side: ``vllm:nixl_num_kv_expired_reqs``, the
requests whose blocks were released because no decoder read them within the
lease). Parsing is a small reader of Prometheus' text format: standard library
only, importable in the light environment. Fetching a page from a running
instance is the harness's job (:mod:`labs_py.pair.scrape`).
"""

from __future__ import annotations

import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

SOURCES = ("local_compute", "local_cache_hit", "external_kv_transfer")


class ReprefillDetected(AssertionError):
    """Decode computed prompt tokens itself: the KV handoff did not happen (or not fully).

    Taught in: no chapter calls it directly; it works behind real_pair.
    """


def parse_prometheus(text: str) -> list[tuple[str, dict, float]]:
    """Samples of a Prometheus text exposition: ``(name, labels, value)`` per line.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        if not m:
            continue
        name, _, labels, value = m.group(1), m.group(2), m.group(3), m.group(4)
        try:
            v = float(value)
        except ValueError:
            continue
        out.append((name, dict(_LABEL.findall(labels or "")), v))
    return out


def _sum(samples, name: str, **match) -> float:
    return float(
        sum(
            v
            for n, lab, v in samples
            if n == name and all(lab.get(k) == w for k, w in match.items())
        )
    )


def pair_counters(text: str) -> dict:
    """The counters the pair chapter uses, from one ``/metrics`` page (summed over engines).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    s = parse_prometheus(text)
    out = {
        f"prompt_tokens_{src}": _sum(
            s, "vllm:prompt_tokens_by_source_total", source=src
        )
        for src in SOURCES
    }
    out.update(
        {
            "prompt_tokens": _sum(s, "vllm:prompt_tokens_total"),
            "generation_tokens": _sum(s, "vllm:generation_tokens_total"),
            "requests_finished": _sum(s, "vllm:request_success_total"),
            "nixl_transfers": _sum(s, "vllm:nixl_xfer_time_seconds_count"),
            "nixl_xfer_time_s": _sum(s, "vllm:nixl_xfer_time_seconds_sum"),
            "nixl_post_time_s": _sum(s, "vllm:nixl_post_time_seconds_sum"),
            "nixl_bytes_transferred": _sum(s, "vllm:nixl_bytes_transferred_sum"),
            "nixl_descriptors": _sum(s, "vllm:nixl_num_descriptors_sum"),
            "nixl_failed_transfers": _sum(s, "vllm:nixl_num_failed_transfers_total"),
            "nixl_kv_expired_reqs": _sum(s, "vllm:nixl_num_kv_expired_reqs_total"),
            "nixl_notifications_after_expiry": _sum(
                s, "vllm:nixl_num_notifications_after_expiry_total"
            ),
            "kv_cache_usage_perc": _sum(s, "vllm:kv_cache_usage_perc"),
            "num_requests_running": _sum(s, "vllm:num_requests_running"),
            # per-request phases the engine timed itself (sums of its histograms, and how many)
            "queue_time_s": _sum(s, "vllm:request_queue_time_seconds_sum"),
            "queue_time_count": _sum(s, "vllm:request_queue_time_seconds_count"),
            "prefill_time_s": _sum(s, "vllm:request_prefill_time_seconds_sum"),
            "prefill_time_count": _sum(s, "vllm:request_prefill_time_seconds_count"),
            "ttft_s": _sum(s, "vllm:time_to_first_token_seconds_sum"),
            "ttft_count": _sum(s, "vllm:time_to_first_token_seconds_count"),
        }
    )
    return out


def delta(before: dict, after: dict) -> dict:
    """``after - before`` for every counter (gauges such as ``kv_cache_usage_perc`` keep ``after``).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    gauges = {"kv_cache_usage_perc", "num_requests_running"}
    return {
        k: (after[k] if k in gauges else after[k] - before.get(k, 0.0)) for k in after
    }


def assert_decode_did_not_prefill(
    decode_delta: dict, expected_prompt_tokens: int
) -> dict:
    """Check decode's counter deltas over a run; return the evidence, or raise :class:`ReprefillDetected`.

    Passes only if decode computed no prompt token itself (``local_compute == 0``)
    and received every prompt token over the connector
    (``external_kv_transfer == expected_prompt_tokens``).

    Taught in: real_pair.
    """
    local = decode_delta["prompt_tokens_local_compute"]
    external = decode_delta["prompt_tokens_external_kv_transfer"]
    evidence = {
        "local_compute_tokens": int(local),
        "local_cache_hit_tokens": int(decode_delta["prompt_tokens_local_cache_hit"]),
        "external_kv_transfer_tokens": int(external),
        "expected_prompt_tokens": int(expected_prompt_tokens),
        "nixl_transfers": int(decode_delta.get("nixl_transfers", 0)),
        "nixl_bytes_transferred": int(decode_delta.get("nixl_bytes_transferred", 0)),
    }
    if local != 0:
        raise ReprefillDetected(
            f"decode prefilled {int(local)} prompt tokens itself (vllm:prompt_tokens_by_source"
            f"{{source=local_compute}}); a healthy pair has 0. External KV covered {int(external)} of "
            f"{expected_prompt_tokens} prompt tokens: the KV handoff was skipped or partial."
        )
    if external != expected_prompt_tokens:
        raise ReprefillDetected(
            f"decode received {int(external)} prompt tokens over the connector; expected "
            f"{expected_prompt_tokens} (the prompt tokens sent)."
        )
    return evidence
