import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labs_py.pair import config as C
from labs_py.pair.config import PairConfig, instance_spec, pair_specs, proxy_argv


def _flag(argv, name):
    return argv[argv.index(name) + 1]


SHARED_FLAGS = (
    "--dtype",
    "--block-size",
    "--max-model-len",
    "--seed",
    "--max-num-batched-tokens",
    "--served-model-name",
)


def test_all_instances_share_model_dtype_block_size_from_one_source():
    cfg = PairConfig()
    specs = [instance_spec(cfg, "single", python="py")] + pair_specs(cfg, python="py")
    for flag in SHARED_FLAGS:
        assert len({_flag(list(s.argv), flag) for s in specs}) == 1, flag
    assert len({s.argv[4] for s in specs}) == 1  # model directory
    assert _flag(list(specs[0].argv), "--block-size") == "32"
    assert _flag(list(specs[0].argv), "--dtype") == "float32"


def test_kv_roles_and_connector():
    cfg = PairConfig()
    p, d = pair_specs(cfg, python="py")
    kp = json.loads(_flag(list(p.argv), "--kv-transfer-config"))
    kd = json.loads(_flag(list(d.argv), "--kv-transfer-config"))
    assert kp["kv_role"] == "kv_producer" and kd["kv_role"] == "kv_consumer"
    assert kp["kv_connector"] == kd["kv_connector"] == "NixlConnector"
    assert kp["kv_buffer_device"] == "cpu"
    assert {k: v for k, v in kp.items() if k != "kv_role"} == {
        k: v for k, v in kd.items() if k != "kv_role"
    }
    assert "--kv-transfer-config" not in instance_spec(cfg, "single", python="py").argv


def test_cpu_path_env_is_offline_loopback_and_pinned():
    cfg = PairConfig()
    p, d = pair_specs(cfg, python="py")
    for s in (p, d):
        assert s.env["HF_HUB_OFFLINE"] == "1" and s.env["UCX_NET_DEVICES"] == "lo"
        assert s.env["VLLM_NIXL_SIDE_CHANNEL_HOST"] == "127.0.0.1"
        assert _flag(list(s.argv), "--host") == "127.0.0.1"
        assert s.env["VLLM_TARGET_DEVICE"] == "cpu"
        assert int(s.env["LABS_PAIR_NIXL_PTHR_DELAY_US"]) > 0
        assert (
            s.env["LABS_PAIR_NIXL_OWN_CORES"] == "1"
        )  # NIXL's reserved core stays on the instance's cores
    assert (
        p.env["VLLM_CPU_OMP_THREADS_BIND"] == "0"
        and d.env["VLLM_CPU_OMP_THREADS_BIND"] == "1"
    )
    assert p.env["VLLM_NIXL_SIDE_CHANNEL_PORT"] != d.env["VLLM_NIXL_SIDE_CHANNEL_PORT"]
    single2 = instance_spec(PairConfig(single_cores=(0, 1)), "single", python="py")
    assert single2.env["VLLM_CPU_OMP_THREADS_BIND"] == "0,1"


def test_gpu_path_uses_cuda_devices_and_no_cpu_settings():
    cfg = PairConfig(backend="gpu", n_gpus=2)
    p, d = pair_specs(cfg, python="py")
    assert p.env["CUDA_VISIBLE_DEVICES"] == "0" and d.env["CUDA_VISIBLE_DEVICES"] == "1"
    assert (
        "VLLM_CPU_OMP_THREADS_BIND" not in p.env and "VLLM_TARGET_DEVICE" not in p.env
    )
    assert "kv_buffer_device" not in json.loads(
        _flag(list(p.argv), "--kv-transfer-config")
    )
    assert _flag(list(p.argv), "--gpu-memory-utilization") == "0.800"
    one = PairConfig(backend="gpu", n_gpus=1)
    p1, d1 = pair_specs(one, python="py")
    assert p1.env["CUDA_VISIBLE_DEVICES"] == d1.env["CUDA_VISIBLE_DEVICES"] == "0"
    assert (
        _flag(list(p1.argv), "--gpu-memory-utilization") == "0.400"
    )  # two instances share one GPU


def test_gpu_path_skips_visibly_without_a_gpu(monkeypatch):
    monkeypatch.setattr(C.shutil, "which", lambda name: None)
    reason = C.backend_unavailable_reason(PairConfig(backend="gpu"))
    assert reason is not None and "no NVIDIA GPU" in reason


@given(st.integers(1, 4), st.integers(1, 4))
def test_ports_and_side_channels_never_collide(n_p, n_d):
    cfg = PairConfig(n_prefill=n_p, n_decode=n_d)
    specs = pair_specs(cfg, python="py")
    ports = [s.port for s in specs] + [cfg.proxy_port, cfg.single_port]
    assert len(set(ports)) == len(ports)
    side = [s.env["VLLM_NIXL_SIDE_CHANNEL_PORT"] for s in specs]
    assert len(set(side)) == len(side)
    argv = proxy_argv(cfg, "py")
    assert argv.count("--prefill") == n_p and argv.count("--decode") == n_d


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"block_size_tokens": 48}, "multiple of 32"),
        ({"block_size_tokens": 0}, "tokens"),
        ({"host": "0.0.0.0"}, "loopback"),
        ({"kv_cache_gib": -1.0}, "GiB"),
        ({"backend": "tpu"}, "backend"),
        ({"n_gpus": 0}, "GPUs"),
        ({"prefill_tp": 2}, "GPU path"),
    ],
)
def test_bad_settings_are_refused_with_the_unit(changes, words):
    with pytest.raises(ValueError, match=words):
        PairConfig(**changes)


def test_config_round_trips_through_a_dict():
    cfg = PairConfig(n_decode=2, decode_cores=((1,), (1,)), single_cores=(0, 1))
    assert PairConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_instance_confinement_is_the_default_and_follows_the_cores():
    p, d = pair_specs(PairConfig(), python="py")
    assert p.affinity() == (0,) and d.affinity() == (1,)
    p, d = pair_specs(PairConfig(confine_instances=False), python="py")
    assert p.affinity() is None  # only the OpenMP threads are pinned
    (g,) = pair_specs(PairConfig(backend="gpu", n_prefill=1, n_decode=1), python="py")[
        :1
    ]
    assert g.affinity() is None


def test_port_offset_moves_every_default_port(monkeypatch):
    base = PairConfig()
    monkeypatch.setenv(C.ENV_PORT_OFFSET, "1000")
    moved = PairConfig()
    for name in (
        "single_port",
        "prefill_base_port",
        "decode_base_port",
        "proxy_port",
        "side_channel_base_port",
    ):
        assert getattr(moved, name) == getattr(base, name) + 1000, name
    assert PairConfig(proxy_port=8123).proxy_port == 8123  # explicit values win
    assert (
        PairConfig.from_dict(base.to_dict()).proxy_port == base.proxy_port
    )  # a stored config keeps its ports
    p, _ = pair_specs(moved, python="py")
    assert p.env["VLLM_NIXL_SIDE_CHANNEL_PORT"] == str(
        base.side_channel_base_port + 1000
    )
    assert proxy_argv(moved, "py")[proxy_argv(moved, "py").index("--port") + 1] == str(
        base.proxy_port + 1000
    )


@pytest.mark.parametrize("bad", ["x", "70000", "-8000"])
def test_port_offset_is_checked(monkeypatch, bad):
    monkeypatch.setenv(C.ENV_PORT_OFFSET, bad)
    with pytest.raises(ValueError, match="LABS_PAIR_PORT_OFFSET"):
        PairConfig()
