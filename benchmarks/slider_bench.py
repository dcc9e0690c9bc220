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
the event to Plotly.react's completion in ``data-render-ms``. In the same browser, beside
each explorable, the *floor* is timed: a bare ``Plotly.react`` that steps through up to 16
prebuilt frames of that explorable (spread over its combinations) in a plot of the same size,
handing plotly the same layout object each time (nothing looked up, nothing fitted, no
readout). What a move costs
above the floor is what the book's own code adds.

Targets: <= 30 ms p95 in the kernel; on the static page, the worst explorable's p95 at most
1.5x the floor's p95 for that explorable.

    .venv/bin/python benchmarks/slider_bench.py --static-only --json   # the page's figures, as JSON
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
KERNEL_TARGET_MS, FLOOR_RATIO_TARGET = 30.0, 1.5

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
            panel.controls[c.name].value = value  # a cold move returns at once (busy note) ...
            panel.wait()  # ... so time until the new setting is drawn
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


FLOOR_JS = """(root, moves) => new Promise(resolve => {
    // up to 16 prebuilt frames of this explorable, spread over all its combinations (so the floor
    // draws the same kinds of data as the moves do), and the layout object its plot holds
    const payload = JSON.parse(root.querySelector('script.lx-payload').textContent);
    const plot = root.querySelector('.lx-plot');
    const pick = i => payload.frames[i][0].map(k => JSON.parse(JSON.stringify(payload.traces[k])));
    const n = payload.frames.length;
    const k = Math.min(n, 16);
    const frames = Array.from({length: k}, (_, j) => pick(Math.floor(j * n / k)));
    const layout = JSON.parse(JSON.stringify(plot.layout));
    const box = document.createElement('div');
    box.style.width = plot.clientWidth + 'px';
    box.style.height = plot.clientHeight + 'px';
    plot.parentNode.appendChild(box);
    const times = [];
    const config = {displayModeBar: false, responsive: true};
    Plotly.newPlot(box, frames[0], layout, config).then(async () => {
        for (let i = 0; i < moves; i++) {
            const t0 = performance.now();
            await Plotly.react(box, frames[(i + 1) % frames.length], layout, config);
            times.push(performance.now() - t0);
        }
        Plotly.purge(box);
        box.remove();
        resolve(times);
    });
})"""


def page_times(
    site: Path, moves: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per explorable: the times of random moves on the built page, and the floor's times beside them."""
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
        and p.stem != "presentation"  # the same explorables as the chapters
    ]
    out: dict[str, list[float]] = {}
    floor: dict[str, list[float]] = {}
    rng = np.random.default_rng(0)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for path in tqdm(pages, desc="static pages", unit="page", file=sys.stderr):
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
                floor[key] = block.evaluate(FLOOR_JS, moves)
        browser.close()
    server.shutdown()
    return out, floor


def static_summary(
    book: dict[str, list[float]], floor: dict[str, list[float]]
) -> dict[str, object]:
    """The worst explorable (highest p95 of a move) beside its floor, and every explorable's ratio."""
    rows = {
        key: {
            "book_p95_ms": float(np.percentile(book[key], 95)),
            "floor_p95_ms": float(np.percentile(floor[key], 95)),
        }
        for key in book
    }
    for r in rows.values():
        r["ratio"] = r["book_p95_ms"] / r["floor_p95_ms"]
    worst = max(rows, key=lambda k: rows[k]["book_p95_ms"])
    return {
        "worst_explorable": worst,
        "floor_p95_ms": round(rows[worst]["floor_p95_ms"], 2),
        "book_p95_ms": round(rows[worst]["book_p95_ms"], 2),
        "ratio": round(rows[worst]["ratio"], 3),
        "max_ratio": round(max(r["ratio"] for r in rows.values()), 3),
        "target_ratio": FLOOR_RATIO_TARGET,
        "explorables": {
            k: {kk: round(v, 3) for kk, v in r.items()} for k, r in rows.items()
        },
    }


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


def report_static(summary: dict) -> bool:
    """Print each explorable's p95 beside its floor, then the worst explorable's ratio."""
    print(
        f"\nOn the static page: control event -> plot updated, beside a bare Plotly.react (the floor)"
        f"\n  {'explorable':32s} {'book p95':>9s} {'floor p95':>10s} {'ratio':>6s}"
    )
    for key, r in summary["explorables"].items():
        print(
            f"  {key:32s} {r['book_p95_ms']:9.2f} {r['floor_p95_ms']:10.2f} {r['ratio']:6.2f}"
        )
    ok = summary["ratio"] <= FLOOR_RATIO_TARGET
    print(
        f"  worst explorable {summary['worst_explorable']}: book p95 {summary['book_p95_ms']:.2f} ms, "
        f"floor p95 {summary['floor_p95_ms']:.2f} ms, ratio {summary['ratio']:.2f} "
        f"(target <= {FLOOR_RATIO_TARGET:g}; {'met' if ok else 'MISSED'})"
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
    ap.add_argument(
        "--static-only",
        action="store_true",
        help="only the static page (every explorable of the site), not the kernel",
    )
    ap.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (floor_p95_ms, book_p95_ms, ratio, ...) instead of tables",
    )
    args = ap.parse_args()

    from labs_py.book import registry

    keys = [
        k
        for k in registry.all_keys()
        if args.static_only or args.keys == "all" or k.startswith(args.keys + ".")
    ]
    result: dict[str, object] = {}
    ok = True
    if not args.static_only:
        if not args.json:
            print(f"benchmarking {len(keys)} explorables, {args.moves} moves each")
        kernel = kernel_times(keys, args.moves)
        result["kernel_p95_ms"] = {
            phase: {k: round(float(np.percentile(v, 95)), 3) for k, v in t.items()}
            for phase, t in kernel.items()
        }
        if not args.json:
            ok &= report(
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
        book, floor = page_times(args.site, args.moves)
        book = {k: v for k, v in book.items() if k in keys}
        summary = static_summary(book, {k: floor[k] for k in book})
        result.update(summary)
        if not args.json:
            ok &= report_static(summary)
    else:
        print(
            f"\nstatic page: SKIPPED, no built site at {args.site} (run tools/setup.sh)",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(
            "\nall within targets"
            if ok
            else "\nsome explorables are over target (see above)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
