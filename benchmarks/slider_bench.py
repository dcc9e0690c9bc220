#!/usr/bin/env python
"""How fast the book's controls replot: in a Jupyter kernel, and on the static page.

    .venv/bin/python benchmarks/slider_bench.py                 # every explorable of the economics chapter
    .venv/bin/python benchmarks/slider_bench.py --keys all --moves 200

In-kernel: a real ipykernel is started (jupyter_client), every Explorable's live panel is
built there, and each timed move sets one control to a random value, which runs the
callback: recompute with labs_py, update the FigureWidget in place (its comm messages
go out over ZMQ). Two passes: *cold*, where first visits pay for their simulations or
traces, and *warm*, after the combinations have been computed once, which is what the
panel's background prefetch gives a reader who has spent a moment reading.

Static page: headless Chromium opens the built site (tools/setup.sh builds it), sets a
control to a random index and dispatches the event; explorable.js records the time from
the event to Plotly.react's completion in ``data-render-ms``.

Targets (issue 2): <= 30 ms p95 in the kernel, <= 16 ms p95 on the static page.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
KERNEL_TARGET_MS, PAGE_TARGET_MS = 30.0, 16.0

KERNEL_CODE = """
import json, os, random, time
os.environ["LABS_PY_PREFETCH"] = "0"  # the cold pass measures first visits as a reader meets them
from labs_py.book import registry
from labs_py.book.live import LivePanel
out = {{}}
for key in {keys!r}:
    panel = LivePanel(registry.build(key))
    for phase in ("cold", "warm"):
        if phase == "warm":  # what the background prefetch leaves behind once it has finished
            for values in panel.explorable.combinations():
                panel.explorable.spec(**values)
                panel.explorable.readout(**values)
        random.seed(0)
        times = []
        for _ in range({moves}):
            c = random.choice(panel.explorable.controls)
            value = random.choice([v for v in c.values if v != panel.values[c.name]] or [c.default])
            t0 = time.perf_counter()
            panel.controls[c.name].value = value
            times.append((time.perf_counter() - t0) * 1e3)
        out.setdefault(phase, {{}})[key] = times
print("RESULT" + json.dumps(out))
"""


def kernel_times(keys: list[str], moves: int) -> dict[str, dict[str, list[float]]]:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        chunks: list[str] = []

        def on_output(msg):
            if msg["msg_type"] == "stream":
                chunks.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))

        reply = kc.execute_interactive(
            textwrap.dedent(KERNEL_CODE.format(keys=keys, moves=moves)),
            output_hook=on_output,
            timeout=1800,
        )
        if reply["content"]["status"] != "ok":
            raise RuntimeError(
                f"benchmark code failed in the kernel: {reply['content']}"
            )
        text = "".join(chunks)
        return json.loads(text[text.index("RESULT") + len("RESULT") :])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def page_times(site: Path, moves: int) -> dict[str, list[float]]:
    sys.path.insert(0, str(ROOT))
    import functools
    import http.server
    import socketserver
    import threading

    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import (
        CHROMIUM_ARGS,
        chromium_path,
    )  # one definition of how Chromium runs

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    server = socketserver.ThreadingTCPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    pages = [
        p
        for d in ("book", "notebooks")
        for p in sorted((site / d).glob("*.html"))
        if 'class="labs-explorable"' in p.read_text(encoding="utf-8")
    ]
    out: dict[str, list[float]] = {}
    rng = np.random.default_rng(0)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for path in tqdm(pages, desc="static pages", unit="page"):
            page.goto(f"{url}/{path.relative_to(site)}", wait_until="networkidle")
            for block in page.locator(".labs-explorable").all():
                key = block.get_attribute("data-key")
                block.locator(".lx-plot .main-svg").first.wait_for()
                block.scroll_into_view_if_needed()
                times = []
                controls = block.locator("[data-control]").all()
                for _ in range(moves):
                    control = controls[int(rng.integers(len(controls)))]
                    n = int(
                        control.evaluate(
                            "el => el.tagName === 'SELECT' ? el.options.length : Number(el.max) + 1"
                        )
                    )
                    target = int(rng.integers(n))
                    ms = control.evaluate(
                        """(el, target) => new Promise(resolve => {
                            const root = el.closest('.labs-explorable');
                            root.addEventListener('lx-rendered',
                                () => resolve(Number(root.getAttribute('data-render-ms'))), {once: true});
                            el.value = String(target);
                            el.dispatchEvent(new Event('input', {bubbles: true}));
                        })""",
                        target,
                    )
                    times.append(ms)
                out[key] = times
        browser.close()
    server.shutdown()
    return out


def report(title: str, results: dict[str, list[float]], target_ms: float) -> bool:
    print(f"\n{title} (target p95 <= {target_ms:g} ms)")
    print(
        f"  {'explorable':32s} {'moves':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}"
    )
    ok = True
    for key, times in results.items():
        a = np.array(times)
        p95 = float(np.percentile(a, 95))
        ok &= p95 <= target_ms
        print(
            f"  {key:32s} {a.size:5d} {np.percentile(a, 50):8.2f} {p95:8.2f} {a.max():8.2f}"
            f"{'' if p95 <= target_ms else '  over target'}"
        )
    every = np.concatenate([np.array(t) for t in results.values()])
    print(
        f"  {'all':32s} {every.size:5d} {np.percentile(every, 50):8.2f} {np.percentile(every, 95):8.2f} "
        f"{every.max():8.2f}"
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--keys",
        default="disaggregation_trade",
        help="'all', or a chapter such as 'disaggregation_trade'",
    )
    ap.add_argument("--moves", type=int, default=100, help="moves per explorable")
    ap.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    args = ap.parse_args()

    from labs_py.book import registry

    keys = [
        k
        for k in registry.all_keys()
        if args.keys == "all" or k.startswith(args.keys + ".")
    ]
    print(f"benchmarking {len(keys)} explorables, {args.moves} moves each")
    kernel = kernel_times(keys, args.moves)
    ok = report(
        "In a Jupyter kernel, cold (first visits compute: simulations, traces)",
        kernel["cold"],
        KERNEL_TARGET_MS,
    )
    ok &= report(
        "In a Jupyter kernel, warm (after the panel's background prefetch)",
        kernel["warm"],
        KERNEL_TARGET_MS,
    )
    if (args.site / "index.html").exists():
        static = {
            k: v for k, v in page_times(args.site, args.moves).items() if k in keys
        }
        ok &= report(
            "On the static page: control event -> Plotly.react done",
            static,
            PAGE_TARGET_MS,
        )
    else:
        print(
            f"\nstatic page: SKIPPED, no built site at {args.site} (run tools/setup.sh)"
        )
    print(
        "\nall within targets"
        if ok
        else "\nsome explorables are over target (see above)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
