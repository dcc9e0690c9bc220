"""The namespaces of labs_py.pair.netns: made, shaped, counted and always removed (needs root, ip and tc).

As root with ``ip`` and ``tc`` present (CI), these run; elsewhere they skip and say why.
"""

import subprocess
import time

import pytest

from labs_py.pair import netns
from labs_py.pair.config import PairConfig, instance_spec, pair_specs

REASON = netns.unavailable_reason()
needs_root = pytest.mark.skipif(
    REASON is not None, reason=f"network namespaces unavailable: {REASON}"
)


def _nothing_left():
    left = netns.ours()
    return not left["netns"] and not left["links"]


def test_netns_specs_listen_on_their_namespace_and_force_tcp_over_the_kv_veth():
    cfg = PairConfig(network="netns", enable_prefix_caching=False)
    p, d = pair_specs(cfg, python="py")
    assert (p.netns, d.netns) == ("lbp-p", "lbp-d")
    assert p.argv[p.argv.index("--host") + 1] == "10.231.2.1" and p.host == "10.231.2.1"
    assert d.argv[d.argv.index("--host") + 1] == "10.231.3.1"
    assert p.env["VLLM_NIXL_SIDE_CHANNEL_HOST"] == p.env["VLLM_HOST_IP"] == "10.231.1.1"
    assert d.env["VLLM_HOST_IP"] == "10.231.1.2"
    assert (p.env["UCX_NET_DEVICES"], d.env["UCX_NET_DEVICES"]) == ("lbp-pk", "lbp-dk")
    assert (
        p.env["UCX_TLS"] == d.env["UCX_TLS"] == "tcp"
    )  # never shared memory across the namespaces
    assert cfg.prefill_urls() == [f"http://10.231.2.1:{cfg.port('producer')}"]
    assert cfg.proxy_url().startswith(
        "http://127.0.0.1:"
    )  # proxy and client stay on loopback
    single = instance_spec(cfg, "single", python="py")
    assert single.netns is None and single.host == "127.0.0.1"


def test_netns_needs_exactly_one_cpu_pair_and_other_hosts_stay_refused():
    with pytest.raises(ValueError, match="one prefill and one decode"):
        PairConfig(network="netns", n_decode=2, decode_cores=((1,), (1,)))
    with pytest.raises(ValueError, match="network"):
        PairConfig(network="vlan")
    with pytest.raises(ValueError, match="loopback"):
        PairConfig(host="10.231.2.1")


def test_tbf_burst_is_a_millisecond_of_the_rate_but_at_least_64_kib():
    assert netns.tbf_burst_bytes(0.1) == 64 * 1024
    assert netns.tbf_burst_bytes(10.0) == 1_250_000
    with pytest.raises(ValueError, match="Gb/s"):
        netns.tbf_burst_bytes(0)


@needs_root
def test_network_is_made_shaped_counted_and_removed():
    with netns.Network() as net:
        assert set(netns.ours()["netns"]) == {"lbp-p", "lbp-d"}
        net.shape(0.25)
        q = net.qdisc()
        assert "tbf" in q and "250Mbit" in q
        # 2 MB from prefill's namespace to decode's, over the KV link: the counters see them
        before = net.kv_bytes()
        srv = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                "lbp-d",
                "python3",
                "-c",
                "import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
                "s.bind(('10.231.1.2',9099));s.listen();c,_=s.accept()\n"
                "while c.recv(65536): pass",
            ]
        )
        time.sleep(0.5)
        t0 = time.time()
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                "lbp-p",
                "python3",
                "-c",
                "import socket;s=socket.create_connection(('10.231.1.2',9099));s.sendall(b'x'*2_000_000);"
                "s.close()",
            ],
            check=True,
            timeout=30,
        )
        srv.wait(timeout=30)
        seconds = time.time() - t0
        sent = net.kv_bytes()["producer_tx"] - before["producer_tx"]
        assert sent >= 2_000_000
        assert (
            seconds > 2_000_000 * 8 / 0.25e9 * 0.8
        )  # the shape binds: ~64 ms at 0.25 Gb/s
        net.shape(None)
        assert "tbf" not in net.qdisc()
    assert _nothing_left()


@needs_root
def test_a_leftover_is_found_and_removed_at_the_next_start_and_on_errors():
    subprocess.run(
        ["ip", "netns", "add", "lbp-p"], check=True
    )  # as a crashed run would leave it
    sleeper = subprocess.Popen(["ip", "netns", "exec", "lbp-p", "sleep", "300"])
    time.sleep(0.3)
    with pytest.raises(RuntimeError, match="boom"):
        with netns.Network():
            assert (
                sleeper.poll() is not None or sleeper.wait(timeout=15) is not None
            )  # killed by the cleanup
            raise RuntimeError("boom")
    assert _nothing_left()
    assert sleeper.poll() is not None


@needs_root
def test_the_subnet_must_be_ours_alone():
    # someone else's interface in our subnet (not named lbp-, so not ours to remove)
    subprocess.run(
        ["ip", "link", "add", "lbptest0", "type", "veth", "peer", "name", "lbptest1"],
        check=True,
    )
    try:
        subprocess.run(
            ["ip", "addr", "add", "10.231.9.1/24", "dev", "lbptest0"], check=True
        )
        for dev in ("lbptest0", "lbptest1"):
            subprocess.run(["ip", "link", "set", dev, "up"], check=True)
        with pytest.raises(netns.NetnsError, match="already routed"):
            netns.Network().up()
    finally:
        subprocess.run(["ip", "link", "del", "lbptest0"], check=False)
    assert _nothing_left()


def test_without_root_it_says_why(monkeypatch):
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    assert "root" in netns.unavailable_reason()
