import sys
import textwrap

import pytest

from labs_py.pair import launch

SERVER = textwrap.dedent("""
    import http.server, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_ready_stop_leaves_nothing_behind():
    port = _free_port()
    p = launch.start("fake", [sys.executable, "-c", SERVER, str(port)], port)
    launch.wait_ready(p, 30, progress=False)
    family = {p.pid} | p.descendants
    assert len(family) >= 2  # the server and the child it spawned
    launch.stop(p, timeout_s=10)
    assert not any(launch._pid_alive(x) for x in family)
    assert not launch.group_members(p.pid)


def test_a_process_that_dies_before_ready_reports_its_log():
    port = _free_port()
    p = launch.start(
        "dies",
        [sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"],
        port,
    )
    with pytest.raises(launch.LaunchError, match="boom: bad config"):
        launch.wait_ready(p, 30, progress=False)
    launch.stop(p)


def test_port_in_use_is_refused_by_number():
    port = _free_port()
    with launch.ProcessSet() as ps:
        p = ps.start("a", [sys.executable, "-c", SERVER, str(port)], port)
        launch.wait_ready(p, 30, progress=False)
        with pytest.raises(launch.LaunchError, match=str(port)):
            launch.start("b", [sys.executable, "-c", SERVER, str(port)], port)


def test_down_stops_recorded_processes_by_pid():
    port = _free_port()
    p = launch.start("rec", [sys.executable, "-c", SERVER, str(port)], port)
    launch.wait_ready(p, 30, progress=False)
    p.popen = None  # as if another shell recorded it
    assert [r.name for r in launch.recorded()] == ["rec"]
    assert launch.stop_recorded() == ["rec"]
    assert not launch.group_members(p.pid)


def test_cpus_confine_the_process_tree():
    port = _free_port()
    p = launch.start(
        "pinned", [sys.executable, "-c", SERVER, str(port)], port, cpus=(0,)
    )
    try:
        launch.wait_ready(p, 30, progress=False)
        for pid in {p.pid} | p.descendants:
            with open(f"/proc/{pid}/status") as f:
                allowed = [
                    ln.split()[1] for ln in f if ln.startswith("Cpus_allowed_list")
                ][0]
            assert allowed == "0"
    finally:
        launch.stop(p)


def test_only_loopback_or_the_pairs_own_namespaces_are_accepted(tmp_path):
    from labs_py.pair.launch import LaunchError, start

    with pytest.raises(LaunchError, match="loopback outside a namespace"):
        start("x", ["true"], 9555, host="10.0.0.1", log_dir=tmp_path)
    with pytest.raises(LaunchError, match="not a namespace this launcher creates"):
        start("x", ["true"], 9555, host="10.231.2.1", netns="other", log_dir=tmp_path)
    with pytest.raises(LaunchError, match="the host must be 10.231.2.1"):
        start("x", ["true"], 9555, host="10.231.3.1", netns="lbp-p", log_dir=tmp_path)
