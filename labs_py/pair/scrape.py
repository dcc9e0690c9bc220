"""Fetch vLLM's ``/metrics`` page from a running instance (the parsing is :mod:`labs_py.captures.metrics`)."""

from __future__ import annotations

import urllib.request

from labs_py.captures.metrics import pair_counters

__all__ = ["scrape", "scrape_counters"]


def scrape(url: str, timeout_s: float = 10.0) -> str:
    """The raw ``/metrics`` page of the instance at ``url`` (e.g. ``http://127.0.0.1:8300``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=timeout_s) as r:
        return r.read().decode()


def scrape_counters(url: str) -> dict:
    """The chapter's counters (:func:`labs_py.captures.metrics.pair_counters`) of the instance at ``url``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return pair_counters(scrape(url))
