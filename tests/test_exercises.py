"""Every exercise of every chapter: the checker accepts its answer, refuses a wrong one, and the answer is right.

"Right" is checked against figures computed independently of the chapter's answer
function: a first-principles formula, or a number pinned here once, so a change to
the answer function that changes the answer fails this test.
"""

import importlib
import math
import pkgutil

import pytest

import labs_py.chapters as chapters_pkg
from labs_py import course
from labs_py.book.exercises import WIDTH, Exercises
from labs_py.defaults import DEEPSEEK_V3, LLAMA_8B, LLAMA_70B, QWEN3_32B
from labs_py.models import get_model, kv_bytes_per_token
from labs_py.steptime import engine_profile


def _chapter_sets() -> dict[str, Exercises]:
    out = {}
    for info in pkgutil.iter_modules(chapters_pkg.__path__):
        if info.ispkg:
            try:
                module = importlib.import_module(
                    f"labs_py.chapters.{info.name}.exercises"
                )
            except ModuleNotFoundError:
                continue
            out[info.name] = module.EXERCISES
    return out


SETS = _chapter_sets()
ALL = [(chapter, label) for chapter, s in SETS.items() for label in s.labels()]


def test_labels_are_unique_across_the_book_and_each_chapter_exports_check():
    labels = [label for _, label in ALL]
    assert len(labels) == len(set(labels))
    for chapter in SETS:
        module = importlib.import_module(f"labs_py.chapters.{chapter}.exercises")
        assert module.check == module.EXERCISES.check


@pytest.mark.parametrize("chapter, label", ALL)
def test_the_answer_is_accepted_and_a_wrong_one_is_not(chapter, label, capsys):
    s = SETS[chapter]
    expected = s.expected(label)
    assert s.is_correct(label, expected)
    s.check(label, expected)
    assert f"[{label}] Correct" in capsys.readouterr().out
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        wrong = expected * (1 + 10 * max(s[label].rel_tol, 0.01)) + 1
        assert not s.is_correct(label, wrong)
        s.check(label, wrong)
        assert "Not yet" in capsys.readouterr().out


MIB = 2**20


def _tp2_allreduce_ms() -> float:
    ar = engine_profile("vllm", "H100-SXM").allreduce_for(2)
    return 2 * 32 * (ar.graph_latency_s + 16 * 4096 * 2 / ar.graph_bytes_per_s) * 1e3


#: Independent figures: a first-principles formula for each closed-form answer, and the numbers
#: pinned once for the simulated ones (each was read off the chapter when it was written).
INDEPENDENT = {
    # 4,096 tokens x 64 layers x 8 KV heads x 128 x 2 (K, V) x 1 byte, in MiB
    "econ-ex-payload": lambda: 4096 * 64 * 8 * 128 * 2 * 1 / MIB,
    # payload bits over 10% of 205 ms: 2,048 x 320 KiB x 8 / (0.0205 s x 1e9)
    "econ-ex-breakeven": lambda: (
        2048 * 327_680 * 8 / (0.10 * course.EXAMPLE_PREFILL_S * 1e9)
    ),
    # (transfer - budget) / prefill, the transfer of 256 MiB over 25 Gb/s
    "econ-ex-overlap": lambda: (256 * MIB * 8 / 25e9 - 0.10 * 0.205) / 0.205,
    # MHA would cache (192 + 128) numbers per head per layer; MLA caches 512 + 64 per layer
    "comp-ex-mla": lambda: (61 * 128 * (192 + 128)) / (61 * (512 + 64)),
    "comp-ex-qwen3": lambda: 115.0,
    "comp-ex-fetch": lambda: 23.52,
    "mig-ex-blocks": lambda: math.ceil((40 + 8) / 8),
    "mig-ex-breakeven": lambda: 23.52,
    "mig-ex-router": lambda: 24,
    "why-ex-intensity": lambda: 22.79,
    "why-ex-prompt": lambda: 340,
    "why-ex-chunks": lambda: math.ceil(2048 / 512),
    "interf-ex-extra": lambda: 19.82,
    "interf-ex-chunk": lambda: 512,
    "interf-ex-share": lambda: 0.1266,
    "goodput-ex-link": lambda: 21.75,
    "goodput-ex-split": lambda: "2P1D",
    "goodput-ex-ratio": lambda: 1.184,
    # two all-reduces per layer, 32 layers, each the graphed kernel's latency plus 16 x 4,096 x 2 bytes
    "two-gpu-ex-allreduce": lambda: _tp2_allreduce_ms(),
    "two-gpu-ex-speedup": lambda: 1.512,
    "two-gpu-ex-throughput": lambda: 0.7507,
    # ceil(2000 / 32) = 63 blocks of 32 tokens x 4,096 bytes
    "pair-ex-blocks": lambda: 63 * 32 * 2 * 4 * 2 * 64 * 4,
    "pair-ex-ratio": lambda: 13.2,
    "pair-ex-wire": lambda: 7.403,
    "plan-ex-fleet": lambda: 2.356,
    # the catalog's links of the sweep, Gb/s: 10 and 25 GbE lose, 100 GbE is the slowest that wins
    "plan-ex-link": lambda: 100.0,
    "plan-ex-crossover": lambda: 8192,
}


def test_every_exercise_has_an_independent_figure():
    assert set(INDEPENDENT) == {label for _, label in ALL}


@pytest.mark.parametrize("chapter, label", ALL)
def test_the_answer_matches_an_independent_figure(chapter, label):
    got, want = SETS[chapter].expected(label), INDEPENDENT[label]()
    if isinstance(want, str):
        assert got == want
    else:
        assert got == pytest.approx(want, rel=2e-3), (
            f"{label}: {got} vs the independent {want}"
        )


def test_the_closed_form_figures_use_the_catalog_they_claim():
    assert kv_bytes_per_token(QWEN3_32B, "fp8") == 64 * 8 * 128 * 2
    assert (
        kv_bytes_per_token(LLAMA_70B) == 327_680
        and kv_bytes_per_token(LLAMA_8B) == 131_072
    )
    m = get_model(DEEPSEEK_V3).mla
    assert (
        m.qk_nope_head_dim + m.qk_rope_head_dim,
        m.v_head_dim,
        m.kv_lora_rank,
        m.qk_rope_head_dim,
    ) == (192, 128, 512, 64)


def test_unanswered_exercises_say_so_without_raising(capsys):
    chapter, label = ALL[0]
    SETS[chapter].check(label, None)
    out = capsys.readouterr().out
    assert "Not answered yet" in out
    assert max(len(line) for line in out.splitlines()) <= WIDTH


def test_tolerance_is_relative():
    s = SETS["disaggregation_trade"]
    expected = s.expected("econ-ex-breakeven")
    assert s.is_correct("econ-ex-breakeven", expected * 1.009)
    assert not s.is_correct("econ-ex-breakeven", expected * 1.02)
    assert not s.is_correct(
        "econ-ex-breakeven", "262"
    )  # a string is not a number of Gb/s


def test_unknown_exercise_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown exercise 'nope'.*econ-ex-breakeven"):
        SETS["disaggregation_trade"]["nope"]


def test_the_solution_shows_the_answer_function_and_checks_it(capsys):
    SETS["disaggregation_trade"].solution("econ-ex-payload")
    out = capsys.readouterr().out
    assert out.startswith("def qwen3_fp8_payload_mib() -> float:")
    assert '"""' not in out and "[econ-ex-payload] Correct: 512 MiB." in out
