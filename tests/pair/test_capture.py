import json
import subprocess
import sys
from pathlib import Path

import pytest

from labs_py.captures import capture as cap

REPO = Path(__file__).resolve().parents[2]


def _capture(**over):
    reqs = [
        {
            "id": f"r{i}",
            "group": "big" if i % 2 else "stream",
            "prompt_tokens": 100,
            "max_tokens": 3,
            "start_s": 0.1 * i,
            "token_times_s": [0.2, 0.21, 0.23],
            "token_counts": [1, 1, 1],
            "output_token_ids": [5, 6, 7],
            "status": "ok",
            "error": None,
        }
        for i in range(4)
    ]
    c = cap.new_capture(
        label="unit",
        kind="pair",
        description="a unit-test capture",
        command="none",
        config={"block_size_tokens": 32},
        workload={"name": "x"},
        requests=reqs,
        metrics={},
    )
    c.update(over)
    return c


def test_round_trip(tmp_path):
    p = cap.write_capture(_capture(), tmp_path / "c.json")
    c = cap.load_capture(p)
    assert c["label"] == "unit" and c["version"] == cap.VERSION
    assert c["summary"]["all"]["ttft_ms"]["p50"] == pytest.approx(200)
    h = cap.headline(c, "stream")
    assert h["ttft_p50_ms"] == pytest.approx(200) and h["itl_p99_ms"] == pytest.approx(
        20.0
    )  # ITLs 10, 20, 10, 20 ms


def test_hand_edits_are_detected(tmp_path):
    p = cap.write_capture(_capture(), tmp_path / "c.json")
    d = json.loads(p.read_text())
    d["requests"][0]["token_times_s"][0] = 0.1
    p.write_text(json.dumps(d))
    with pytest.raises(cap.CaptureError, match="edited"):
        cap.load_capture(p)


@pytest.mark.parametrize(
    "over, words",
    [
        ({"version": 99}, "version"),
        ({"kind": "guess"}, "kind"),
        ({"schema": "other"}, "schema"),
    ],
)
def test_schema_errors_name_the_field(tmp_path, over, words):
    with pytest.raises(cap.CaptureError, match=words):
        cap.write_capture(_capture(**over), tmp_path / "c.json")


def test_missing_field_is_named(tmp_path):
    c = _capture()
    del c["hardware"]
    with pytest.raises(cap.CaptureError, match="hardware"):
        cap.write_capture(c, tmp_path / "c.json")


def test_unsorted_timestamps_are_refused(tmp_path):
    c = _capture()
    c["requests"][1]["token_times_s"] = [0.3, 0.2]
    with pytest.raises(cap.CaptureError, match=r"requests\[1\]"):
        cap.write_capture(c, tmp_path / "c.json")


def test_committed_captures_load_and_are_labelled():
    caps = cap.load_all()
    for label, c in caps.items():
        assert c["description"], label
        assert c["hardware"]["logical_cores"] >= 1
        assert c["command"].startswith(".venv-pair/bin/python -m labs_py.pair"), label


def test_reading_captures_needs_neither_vllm_nor_torch_nor_aiohttp():
    code = (
        "import sys; import labs_py.captures.capture, labs_py.captures.timing, labs_py.captures.metrics, "
        "labs_py.pair.config, labs_py.pair.tiny_model; "
        "bad = [m for m in ('vllm', 'torch', 'aiohttp', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
