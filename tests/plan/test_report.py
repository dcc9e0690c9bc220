"""What the planner hands a person: the table, the launch commands, the Pareto plot and the command line."""

from __future__ import annotations

import json
import re

import pytest

from labs_py.defaults import H100_SXM, LLAMA_70B
from labs_py.plan import Layout, Question
from labs_py.plan.__main__ import main
from labs_py.plan.report import commands_for, format_result, pareto_spec, save_pareto
from labs_py.plan.search import Finalist

from .conftest import CHAT


def _finalist(layout: Layout, cluster: int) -> Finalist:
    return Finalist(
        layout, 1.0, 1.0, 0, 0, 0, 0, "TPOT (decode steps)", {}, 128, cluster
    )


def test_a_split_is_launched_with_tp_per_instance_on_named_hosts():
    q = Question(LLAMA_70B, H100_SXM, 16, 2048, 128, 1000, 40)
    split = _finalist(
        Layout(
            "disaggregated",
            prefill=1,
            decode=1,
            prefill_tp=4,
            decode_tp=4,
            link_gbps=400,
        ),
        16,
    )
    cmds = commands_for(split, q, ["node-a", "node-b"])
    serves = [c for c in cmds if "vllm serve" in c]
    assert (
        len(serves) == 4
    )  # the 8-GPU layout fits twice in 16: 2 prefill + 2 decode engines of TP4
    assert all("--tensor-parallel-size 4" in c and LLAMA_70B in c for c in serves)
    assert [re.search(r"CUDA_VISIBLE_DEVICES=(\S+)", c)[1] for c in serves] == [
        "0,1,2,3",
        "4,5,6,7",
    ] * 2
    assert sum('"kv_role": "kv_producer"' in c for c in serves) == 2
    assert sum('"kv_role": "kv_consumer"' in c for c in serves) == 2
    assert "# decode0 on node-b" in "\n".join(cmds)
    proxy = next(c for c in cmds if "labs_py.pair.proxy" in c)
    assert (
        "--prefill http://node-a:8100" in proxy
        and "--decode http://node-b:8150" in proxy
    )
    assert "--allow-remote-upstreams" in proxy


def test_a_colocated_fleet_is_launched_one_replica_per_tp_group():
    q = Question(**CHAT)
    c = _finalist(
        Layout("colocated", replicas=8, tp=1, chunk_tokens=512, max_batch=32), 8
    )
    cmds = [x for x in commands_for(c, q) if "vllm serve" in x]
    assert len(cmds) == 8
    assert all(
        "--max-num-batched-tokens 512" in x and "--max-num-seqs 32" in x for x in cmds
    )
    assert "--tensor-parallel-size" not in cmds[0]
    nochunk = _finalist(
        Layout("colocated", replicas=2, tp=4, chunk_tokens=None, max_batch=64), 8
    )
    cmds = [x for x in commands_for(nochunk, q) if "vllm serve" in x]
    assert all(
        "--no-enable-chunked-prefill" in x and "--tensor-parallel-size 4" in x
        for x in cmds
    )


def test_the_table_lists_every_finalist_and_ends_with_the_verdict(chat_plan):
    text = format_result(chat_plan)
    assert "12,558 layouts screened, 6 simulated" in text
    for f in chat_plan.finalists:
        assert f.label[:62] in text
    assert text.rstrip().endswith(chat_plan.verdict)


def test_the_pareto_plot_has_every_kind_and_the_finalists(chat_plan, tmp_path):
    spec = pareto_spec(chat_plan)
    names = [t.get("name") for t in spec["data"]]
    assert any("colocated" in n for n in names) and any(
        "disaggregated" in n for n in names
    )
    path = save_pareto(chat_plan, str(tmp_path / "p.html"))
    html = open(path).read()
    # plotly.js is inside the file (about 4.6 MB), not fetched from a CDN
    assert (
        not re.search(r"<script[^>]+src=", html)
        and len(html) > 3_000_000
        and "Plotly.newPlot" in html
    )


def test_the_command_line_prints_one_json_object(capsys, tmp_path):
    argv = [
        "--model",
        CHAT["model"],
        "--gpu",
        CHAT["gpu"],
        "--gpus",
        "8",
        "--isl",
        "2048",
        "--osl",
        "128",
        "--ttft-ms",
        "400",
        "--tpot-ms",
        "20",
        "--link-gbps",
        "400",
        "--workers",
        "1",
        "--plot",
        str(tmp_path / "pareto.html"),
        "--json",
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert (
        d["configs_evaluated"] == 12_558 // 3 + 630 * 2 // 3
    )  # one link instead of three: splits / 3
    assert d["best"]["kind"] in ("colocated", "disaggregated") and d["commands"]
    assert (
        "[plan] screened" in err and "[plan] simulated 6/6" in err
    )  # progress goes to stderr
    assert (tmp_path / "pareto.html").exists()


def test_the_command_line_refuses_bad_input_with_a_named_value(capsys):
    argv = [
        "--model",
        CHAT["model"],
        "--gpu",
        CHAT["gpu"],
        "--gpus",
        "8",
        "--isl",
        "2048",
        "--osl",
        "128",
        "--ttft-ms",
        "-4",
        "--tpot-ms",
        "20",
        "--plot",
        "",
    ]
    assert main(argv) == 2
    assert "ttft_ms" in capsys.readouterr().err


@pytest.mark.parametrize("gpus", ["1"])
def test_the_command_line_refuses_a_model_that_does_not_fit(capsys, gpus):
    argv = [
        "--model",
        LLAMA_70B,
        "--gpu",
        CHAT["gpu"],
        "--gpus",
        gpus,
        "--isl",
        "2048",
        "--osl",
        "128",
        "--ttft-ms",
        "400",
        "--tpot-ms",
        "20",
        "--plot",
        "",
    ]
    assert main(argv) == 2
    assert "fits no layout within 1 x H100-SXM" in capsys.readouterr().err


def test_a_split_spreads_over_small_hosts_and_too_few_hosts_are_refused():
    q = Question(**CHAT)
    split = _finalist(
        Layout(
            "disaggregated",
            prefill=6,
            decode=1,
            prefill_tp=1,
            decode_tp=2,
            link_gbps=100,
        ),
        8,
    )
    text = "\n".join(commands_for(split, q, ["node-a", "node-b"], gpus_per_host=4))
    assert (
        "# prefill3 on node-a" in text
        and "# prefill4 on node-b" in text
        and "# decode0 on node-b" in text
    )
    with pytest.raises(ValueError, match="needs 2 hosts of 4 GPUs; got 1"):
        commands_for(split, q, ["node-a"], gpus_per_host=4)
    colocated = _finalist(Layout("colocated", replicas=8, tp=1, chunk_tokens=512), 8)
    with pytest.raises(ValueError, match="needs 2 hosts of 4 GPUs; got 1"):
        commands_for(colocated, q, ["node-a"], gpus_per_host=4)
    with pytest.raises(ValueError, match="TP2 replica does not fit on hosts of 1 GPUs"):
        commands_for(
            _finalist(Layout("colocated", replicas=4, tp=2, chunk_tokens=512), 8),
            q,
            None,
            1,
        )
