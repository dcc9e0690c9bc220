"""Refit the engine profiles of labs_py/data/calibration.json and print model-vs-reference errors.

    python benchmarks/sim_calibrate.py            # fit and print
    python benchmarks/sim_calibrate.py --write    # ...and store the fitted profiles in the JSON

The profiles: "distserve-a100" and "vllm-a100" are fitted to DistServe's published
A100 step latencies; "h100-serving" (the simulator's default engine) takes its roofs
from the H100 micro-benchmarks ("roofline") and its host costs from "distserve-a100".
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from importlib import resources

from labs_py.core import catalog
from labs_py.steptime import calibration as cal


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--write",
        action="store_true",
        help="store the fitted profiles in labs_py/data/calibration.json",
    )
    args = ap.parse_args()
    fitted = {s: cal.fit_profile(s) for s in ("distserve-a100", "vllm-a100")}
    for s, prof in fitted.items():
        print(f"\n== {s}: {prof}")
        print(cal.format_table(cal.calibration_table(prof, s)))
    serving = cal.composite_profile(
        "h100-serving", "roofline", fitted["distserve-a100"]
    )
    print(f"\n== validation (never fitted) under h100-serving: {serving}")
    print(cal.format_table(cal.calibration_table(serving, "seed-l4", "validation")))
    if args.write:
        path = resources.files("labs_py.data").joinpath("calibration.json")
        data = json.loads(path.read_text(encoding="utf-8"))
        keep = (
            "compute_efficiency",
            "attention_efficiency",
            "bandwidth_efficiency",
            "step_overhead_s",
            "sequence_overhead_s",
            "allreduce_latency_s",
            "tp_link_gbps",
            "roofline_sharpness",
            "source",
        )
        data["profiles"] = {
            p.name: {k: v for k, v in asdict(p).items() if k in keep}
            for p in [*fitted.values(), serving]
        }
        with open(str(path), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        catalog.load.cache_clear()
        print(f"\nwrote {len(data['profiles'])} profiles to {path}")


if __name__ == "__main__":
    main()
