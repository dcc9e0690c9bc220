"""``python -m labs_py.steptime validate`` prints the validation table; ``fit`` refits ``calibration.json``.

python -m labs_py.steptime validate            # every measured point, its prediction, error and set
python -m labs_py.steptime validate --summary  # points, median and worst error per source and set
python -m labs_py.steptime fit                 # refit the profiles (needs scipy; about a minute)
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Taught in: no chapter yet: a tool for readers' own experiments.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    ap = argparse.ArgumentParser(
        prog="python -m labs_py.steptime", description=__doc__.split("\n\n")[0]
    )
    sub = ap.add_subparsers(dest="command", required=True)
    v = sub.add_parser(
        "validate", help="print every measured point beside its prediction"
    )
    v.add_argument(
        "--summary",
        action="store_true",
        help="only the per-source summary (and the reverse fit)",
    )
    v.add_argument(
        "--source", default=None, help="only the rows whose source contains this text"
    )
    f = sub.add_parser("fit", help="refit labs_py/data/calibration.json")
    f.add_argument(
        "--out",
        default=None,
        help="where to write (default: labs_py/data/calibration.json)",
    )
    args = ap.parse_args(argv)
    if args.command == "fit":
        from pathlib import Path

        from labs_py.steptime import fit

        doc = fit.fit_all(progress=lambda s: print(s, flush=True))
        path = fit.write(doc, Path(args.out) if args.out else None)
        print(f"[fit] wrote {path}")
        return 0
    from labs_py.steptime import validation as val

    rows = val.checks()
    if args.source:
        rows = [r for r in rows if args.source.lower() in r.source.lower()]
    if not args.summary:
        print(val.format_table(rows))
        print()
    print(val.format_summary(val.summary(rows)))
    if args.summary:
        print()
        print(val.format_summary(val.reverse_summary()))
    bad = val.exceptions(rows)
    print(
        f"\n{len(rows)} points; {len(bad)} outside their target"
        + ("".join(f"\n  ! {c.source}: {c.label} {c.error:+.1%}" for c in bad))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
