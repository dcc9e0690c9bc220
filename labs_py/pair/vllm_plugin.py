"""A vLLM general plugin that stops NIXL's progress thread from busy-spinning a core.

Why this exists: NIXL's Python API (``nixl_agent.__init__``) starts a progress
thread per agent and hard-codes its polling delay, ``pthrDelay``, to 0, so the
thread spins a whole core per process. On a 2-core machine that steals the core
the other instance is pinned to; measured on this machine class it tripled the
pair's ITL p50 (about 6 ms to 18-20 ms, ``shared/notes/vllm-cpu-pair.md``).

Switching the thread off is not enough, though: we saw the first transfer to an
idle producer hang forever with the thread off. UCX over loopback TCP needs the
*producer* to make progress (connection wire-up, the notification after the
read), and an idle vLLM engine does not step, so nobody drives it. Keeping the
thread but letting it sleep between polls fixes both: measured here, an agent's
process uses about 2-3 % of a core with a delay of 10 to 1000 microseconds,
against 99 % with the stock delay of 0.

How: ``nixl_agent.__init__`` builds a ``nixlBind.nixlAgentConfig`` and sets
``pthrDelay = 0`` on it. We give NIXL's ``_api`` module a view of ``nixlBind``
whose ``nixlAgentConfig`` is a subclass that raises any ``pthrDelay`` below our
floor to the floor. vLLM calls general plugins in every process it starts
(API server, engine core, worker), so the worker that owns the agent gets it.

It is inert unless the launcher sets ``LABS_PAIR_NIXL_PTHR_DELAY_US`` to a
positive number of microseconds (the CPU path of :mod:`labs_py.pair.config`
does), so installing it on a GPU box changes nothing there.
"""

from __future__ import annotations

import os
import sys

ENV_DELAY_US = "LABS_PAIR_NIXL_PTHR_DELAY_US"
ENV_SHM_SPIN_S = "LABS_PAIR_SHM_BUSY_LOOP_S"


class _BindView:
    """``nixlBind`` as NIXL's ``_api`` sees it, with ``nixlAgentConfig`` swapped."""

    def __init__(self, real, config_cls) -> None:
        self._real = real
        self.nixlAgentConfig = config_cls

    def __getattr__(self, name):
        return getattr(self._real, name)


def _delayed_config(base: type, floor_us: int) -> type:
    prop = base.pthrDelay

    class DelayedAgentConfig(base):  # type: ignore[misc, valid-type]
        """``nixlAgentConfig`` whose progress-thread delay never drops below ``floor_us``."""

        @property
        def pthrDelay(self):
            return prop.__get__(self)

        @pthrDelay.setter
        def pthrDelay(self, value):
            prop.__set__(self, max(int(value), floor_us))

    return DelayedAgentConfig


def _shm_busy_loop(seconds: float) -> None:
    """Set how long vLLM's shared-memory queue readers spin after a read (vLLM: 1 s).

    The engine core and its worker talk through a shared-memory ring; after
    each read, the reader keeps polling it with ``sched_yield`` for
    ``busy_loop_s`` before sleeping on a socket. On dedicated cores that saves
    microseconds. On 2 cores shared by two instances, every idle reader spins
    on the core another instance computes on.
    """
    from vllm.distributed.device_communicators import shm_broadcast

    init = shm_broadcast.SpinCondition.__init__
    if init.__defaults__ and init.__defaults__[-1] != seconds:
        init.__defaults__ = (*init.__defaults__[:-1], seconds)


def register() -> None:
    """Entry point for ``vllm.general_plugins`` (may run several times per process)."""
    spin = os.environ.get(ENV_SHM_SPIN_S)
    if spin:
        try:
            _shm_busy_loop(float(spin))
        except (ImportError, AttributeError, ValueError):
            pass
    try:
        floor_us = int(os.environ.get(ENV_DELAY_US, "0"))
    except ValueError:
        floor_us = 0
    if floor_us <= 0:
        return
    try:
        import nixl._api as api  # nixl's __init__ maps this to nixl_cu12._api (or cu13/rocm)
    except ImportError:
        return
    if isinstance(api.nixlBind, _BindView):
        return
    api.nixlBind = _BindView(api.nixlBind, _delayed_config(api.nixlBind.nixlAgentConfig, floor_us))
    print(f"[labs_pair plugin] pid {os.getpid()}: NIXL progress thread polls every >= {floor_us} us "
          f"(stock: 0, a busy spin)", file=sys.stderr, flush=True)
