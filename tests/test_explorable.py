"""The interactive-figure mechanism: one pure function, a live panel and a static page that agree."""

import json
import re

import plotly.graph_objects as go
import pytest

from labs_py.book import (
    Dropdown,
    Explorable,
    Slider,
    display,
    explorable_factory,
    figure,
    live,
    registry,
    static,
)
from labs_py.figures.spec import make_spec


def _toy(**overrides) -> Explorable:
    def fig(a, b):
        return make_spec(
            [dict(type="scatter", x=[0, 1, 2], y=[a, a * b, b])], {"height": 300}
        )

    kwargs = dict(
        title="toy",
        controls=(
            Slider("a", "A", (1, 2, 3), 2, fmt="{} ms"),
            Dropdown("b", "B", {"small": 10, "large": 100}, 10),
        ),
        figure_fn=fig,
        readout_fn=lambda a, b: {"product": f"{a * b}"},
        alt="A toy line whose middle point is a times b.",
    )
    kwargs.update(overrides)
    return Explorable(**kwargs)


def _frame_spec(payload, index):
    traces, layout, strings = payload["frames"][index]
    return (
        [payload["traces"][i] for i in traces],
        payload["layouts"][layout],
        dict(zip(payload["readout_keys"], [payload["strings"][i] for i in strings])),
    )


def test_payload_holds_every_combination_in_mixed_radix_order():
    ex = _toy()
    payload = static.payload(ex)
    assert len(payload["frames"]) == ex.n_combinations == 6
    for index, values in enumerate(ex.combinations()):  # last control fastest
        traces, _, readout = _frame_spec(payload, index)
        assert traces[0]["y"] == [values["a"], values["a"] * values["b"], values["b"]]
        assert readout == ex.readout(**values)
    assert [c["default"] for c in payload["controls"]] == [1, 0]


def test_identical_traces_and_layouts_are_stored_once():
    ex = _toy(
        figure_fn=lambda a, b: make_spec(
            [dict(type="bar", x=[1], y=[a])], {"height": 300}
        )
    )
    payload = static.payload(ex)
    assert len(payload["traces"]) == 3 and len(payload["layouts"]) == 1


def test_static_html_embeds_payload_and_deterministic_ids():
    static.reset_element_ids()
    ex = _toy()
    html = static.explorable_html(ex)
    assert 'id="lx-explorable-1"' in html and 'class="lx-payload"' in html
    payload = json.loads(re.search(r'class="lx-payload">(.*?)</script>', html).group(1))
    assert payload["title"] == "toy"
    assert (
        'type="range"' in html and "<select" in html
    )  # keyboard-operable native controls
    assert 'aria-label="A toy line' in html
    assert "lx-explorable-2" in static.explorable_html(ex)


def test_the_display_mode_is_chosen_explicitly():
    assert (
        display.current() == "live"
    )  # Jupyter, nbval and tests unless they say otherwise
    with display.showing("static"):
        bundle = _toy()._repr_mimebundle_()
        assert (
            "labs-explorable" in bundle["text/html"]
            and "product: 20" in bundle["text/plain"]
        )
    assert display.current() == "live"
    assert "application/vnd.jupyter.widget-view+json" in _toy()._repr_mimebundle_()
    with pytest.raises(ValueError, match="'print'"):
        display.use("print")
    assert display.current() == "live"


def test_the_book_build_starts_its_kernels_in_the_static_mode(tmp_path, monkeypatch):
    """The Sphinx extension's kernel runs one start-up line that switches the mode; no environment variable."""
    from labs_py.book import sphinx as ext

    monkeypatch.setenv(
        "JUPYTER_PATH", ""
    )  # restored after the test: the extension prepends its kernels

    kdir = ext.install_static_kernel(tmp_path)
    spec = json.loads((kdir / "kernel.json").read_text())
    assert any("exec_lines" in a and "use('static')" in a for a in spec["argv"])
    exec(ext.STATIC_STARTUP)  # what the kernel runs first
    try:
        assert display.current() == "static"
    finally:
        display.use("live")


def test_the_book_serves_mathjax_3_whole_from_a_pinned_python_package():
    """MathJax comes with requirements.txt (no npm): every part the build copies, fonts included."""
    from labs_py.book import sphinx as ext

    mj = ext.mathjax_dir()
    assert [part for part in ext.MATHJAX_PARTS if not (mj / part).exists()] == []
    assert re.search(
        r'VERSION="3\.\d+\.\d+"', (mj / "tex-mml-chtml.js").read_text(encoding="utf-8")
    )
    assert any((mj / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))


def test_live_panel_replots_in_place_when_a_control_moves():
    panel = live.LivePanel(_toy())
    fw = panel.figure
    assert isinstance(fw, go.FigureWidget) and list(fw.data[0].y) == [2, 20, 10]
    panel.controls["a"].value = 3  # what dragging the slider does
    panel.wait()
    assert list(fw.data[0].y) == [3, 30, 10]
    assert "30" in panel.readout.value
    panel.controls["b"].value = 100
    panel.wait()
    assert list(fw.data[0].y) == [3, 300, 100] and panel.figure is fw


def test_a_cold_move_shows_busy_at_once_never_blocks_and_the_newest_setting_wins():
    import threading
    import time

    release, started = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow(a):
        calls.append(a)
        if a == 2:  # the first setting the reader tries is a slow simulation
            started.set()
            release.wait(10)
        return make_spec([dict(type="scatter", x=[0, 1], y=[a, a])], {})

    ex = Explorable(
        "slow",
        (Slider("a", "A", (1, 2, 3), 1),),
        slow,
        lambda a: {"a": str(a)},
        alt="a line",
    )
    panel = live.LivePanel(ex, prefetch=False)
    t0 = time.perf_counter()
    panel.controls["a"].value = 2  # cold and slow
    assert time.perf_counter() - t0 < 0.5, "the move blocked on the computation"
    assert "computing" in panel.readout.value  # busy, at once
    assert started.wait(10)
    panel.controls["a"].value = 3  # the reader moves on before it finishes
    release.set()
    panel.wait()
    assert list(panel.figure.data[0].y) == [3, 3]  # the newest setting is drawn...
    assert (
        panel.readout.value.count(">3<") == 1 and "computing" not in panel.readout.value
    )
    panel.controls[
        "a"
    ].value = 2  # ...and a setting computed once is drawn at once, no busy note
    assert (
        list(panel.figure.data[0].y) == [2, 2]
        and "computing" not in panel.readout.value
    )


def test_live_panel_rebuilds_when_the_trace_count_changes():
    def fig(n):
        return make_spec([dict(type="bar", x=[i], y=[i]) for i in range(n)], {})

    ex = Explorable(
        "n", (Slider("n", "N", (1, 2), 1),), fig, lambda n: {"n": str(n)}, alt="n bars"
    )
    panel = live.LivePanel(ex)
    panel.set(n=2)
    assert len(panel.figure.data) == 2


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Slider("a", "A", (1, 2), 5), "default 5"),
        (lambda: Slider("a", "A", (1, 1), 1), "repeated"),
        (lambda: Slider("a", "A", (), 1), "at least one value"),
        (lambda: Dropdown("m", "M", {"x": object()}, None), "numbers or strings"),
        (lambda: Dropdown("m", "M", {"x": "a"}, "b"), "not one of its values"),
        (lambda: _toy(alt=" "), "text alternative"),
        (
            lambda: Slider("x", "X", (1, 2), 1, value_labels=("one",)),
            "one label per value",
        ),
    ],
)
def test_bad_definitions_are_rejected(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_slider_value_labels_name_each_value():
    s = Slider(
        "chunk", "Chunk", (0, 512), 512, value_labels=("no chunking", "512 tokens")
    )
    assert s.labels() == ["no chunking", "512 tokens"]


def test_unknown_control_names_are_rejected():
    with pytest.raises(ValueError, match=r"unknown control\(s\) \['c'\]"):
        _toy().readout(c=1)


def test_grids_too_large_for_a_page_are_refused():
    ex = _toy(
        controls=(
            Slider("a", "A", tuple(range(100)), 0),
            Slider("b", "B", tuple(range(100)), 0),
        )
    )
    with pytest.raises(ValueError, match="10000 combinations"):
        static.payload(ex)


def test_factory_records_key_and_kwargs():
    @explorable_factory
    def thing(scale=1):
        return _toy()

    ex = thing(scale=2)
    assert ex.key.endswith(".thing") and ex.kwargs == {"scale": 2}


def test_static_figure_requires_alt_text_and_renders_in_both_modes():
    with pytest.raises(ValueError, match="text alternative"):
        figure(make_spec([], {}), alt="")
    f = figure(make_spec([dict(type="bar", x=[1], y=[2])], {}), alt="one bar", name="x")
    with display.showing("static"):
        assert 'class="labs-figure"' in f._repr_mimebundle_()["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in f._repr_mimebundle_()


@pytest.mark.parametrize("key", registry.all_keys())
def test_every_book_explorable_is_valid_at_every_corner(key):
    """Each registered explorable rebuilds from its key, and its specs validate as plotly figures."""
    ex = registry.build(key)
    assert ex.key == key
    combos = ex.combinations()
    for values in (combos[0], combos[len(combos) // 2], combos[-1]):
        go.Figure(ex.spec(**values))  # raises on any invalid property
        readout = ex.readout(**values)
        assert readout and all(isinstance(v, str) for v in readout.values())
    assert ex.n_combinations <= static.MAX_COMBINATIONS


def test_registry_rejects_unknown_keys():
    with pytest.raises(ValueError, match="looks like 'chapter.factory'"):
        registry.build("ledgers")
    with pytest.raises(ValueError, match="no explorable factory 'nope'"):
        registry.build("disaggregation_trade.nope")
    with pytest.raises(ValueError, match="no chapter 'economics'"):
        registry.build("economics.ledgers")


def test_live_panel_prefetches_every_combination_in_the_background():
    seen = []

    def fig(a, b):
        seen.append((a, b))
        return make_spec([dict(type="scatter", x=[0], y=[a * b])], {})

    panel = live.LivePanel(_toy(figure_fn=fig), prefetch=True)
    panel.prefetch_thread.join(timeout=10)
    assert set(seen) == {(a, b) for a in (1, 2, 3) for b in (10, 100)}
    assert live.LivePanel(_toy(), prefetch=False).prefetch_thread is None
