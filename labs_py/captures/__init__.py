"""The analysis of real runs: the capture format, latency metrics, reports and reconciliation.

Light: no vLLM, no torch. The book imports it; the harness (:mod:`labs_py.pair`)
writes captures with it.
"""
