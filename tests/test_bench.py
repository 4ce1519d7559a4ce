"""The benchmark harness runs end to end and writes what it promises; nothing here is timed."""

import json
import sys

import numpy as np
import pytest
import sepconv

bench = pytest.importorskip("sepconv.bench")

# Tiny and fast in every implementation (the float64 reference included).
SMALL = "dw3x3s1_c384_14"
FAST = ["--quick", "--min-time", "0.002", "--threads", "1"]


def _load(path):
    with open(path) as f:
        return json.load(f)


def _check_json(data, case=SMALL):
    meta = data["metadata"]
    for key in ("date", "cpu_model", "threads", "versions", "sepconv_config", "peers",
                "peers_skipped", "cost_source"):
        assert key in meta, key
    for key in ("numpy", "torch", "onnxruntime", "sepconv"):
        assert key in meta["versions"], key
    assert meta["sepconv_config"]["version"] == meta["versions"]["sepconv"]
    rows = data["results"]
    assert rows and {r["case"] for r in rows} == {case}
    assert {r["layout"] for r in rows} == {"NCHW", "NHWC"}
    for r in rows:
        assert r["batch"] == 1 and r["threads"] == 1
        assert r["flops"] > 0 and r["min_bytes"] > 0
        o = r["ours"]
        assert o["status"] == "ok", o
        for key in ("median_s", "min_s", "reps", "gflops", "gbps"):
            assert key in o, key
        assert o["reps"] >= bench.MIN_REPS and o["min_s"] <= o["median_s"]
        for name, p in r["peers"].items():
            assert name in bench.PEERS
            assert p["status"] in ("ok", "skipped"), (name, p)
            if p["status"] == "ok":
                assert p["rel_err"] < bench.REL_TOL
                assert p["ratio"] == pytest.approx(p["median_s"] / o["median_s"])
    assert "geomean" in data["summary"] and "worst" in data["summary"]
    return rows


def test_quick_run_writes_json_and_markdown(tmp_path, capsys):
    out, md = tmp_path / "r.json", tmp_path / "t.md"
    assert bench.main(FAST + ["--filter", SMALL, "--json", str(out), "--markdown", str(md)]) == 0
    rows = _check_json(_load(out))
    # the reference is timed on a case this small, and checked against ours first
    assert all(r["peers"]["ref"]["status"] == "ok" for r in rows)
    text = capsys.readouterr().out
    assert SMALL in text and "Summary" in text
    table = md.read_text()
    assert f"| {SMALL} |" in table and "|--:|" in table and "%probe" in table
    for r in rows:  # the peak-FMA probe was timed beside ours
        o = r["ours"]
        assert o["probe_gflops"] > 0
        assert o["pct_probe"] == pytest.approx(100 * o["gflops"] / o["probe_gflops"])


def test_no_probe_leaves_the_probe_out(tmp_path):
    out, md = tmp_path / "r.json", tmp_path / "t.md"
    assert bench.main(FAST + ["--filter", SMALL, "--no-probe", "--json", str(out),
                              "--markdown", str(md)]) == 0
    assert all("pct_probe" not in r["ours"] for r in _check_json(_load(out)))
    assert "%probe" not in md.read_text()


def test_fma_probe_counts_its_flops_on_every_isa(isa):
    threads = sepconv.get_num_threads()
    lanes = {"scalar": 1, "avx2": 8, "avx512": 16}.get(sepconv.config()["isa"], 1)
    # 12 chains of lanes-wide FMAs (2 FLOPs each) per iteration, on every thread
    assert sepconv._core.run_fma_probe(100) == 100 * 12 * lanes * 2 * threads
    with pytest.raises(ValueError, match="iterations"):
        sepconv._core.run_fma_probe(0)


def test_runs_without_torch_and_onnxruntime(tmp_path, monkeypatch):
    for mod in ("torch", "onnx", "onnxruntime"):
        monkeypatch.setitem(sys.modules, mod, None)  # `import mod` now raises ImportError
    out = tmp_path / "r.json"
    assert bench.main(FAST + ["--filter", SMALL, "--json", str(out)]) == 0
    data = _load(out)
    rows = _check_json(data)
    assert set(data["metadata"]["peers_skipped"]) == {"torch", "ort"}
    assert data["metadata"]["versions"]["torch"] is None
    for r in rows:
        assert r["peers"]["torch"]["status"] == "skipped"
        assert r["peers"]["ort"]["status"] == "skipped"


def test_pointwise_numpy_peer_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    args = FAST + ["--filter", "pw_384to64_14", "--layout", "NHWC", "--peers", "numpy",
                   "--json", str(out), "--plot", str(png)]
    assert bench.main(args) == 0
    rows = _load(out)["results"]
    assert len(rows) == 1 and rows[0]["peers"]["numpy"]["status"] == "ok"
    assert png.stat().st_size > 0


def test_every_case_is_checked_by_every_peer_shape():
    """Each case builds and the peers that apply agree with the reference (batch 1, no timing)."""
    for case in bench.CASES:
        if bench.case_cost(case, 1, "NCHW")[0] > 2e8:
            continue  # keep the test quick: the reference is float64 NumPy
        for layout in bench.LAYOUTS:
            p = bench.make_problem(case, 1, layout)
            y = bench.ours(p).run()
            ref = bench._ref_peer(p)
            assert bench.rel_error(ref.to_numpy(ref.run()), y) < bench.REL_TOL, case.name
            npeer = bench._numpy_peer(p)
            if npeer is not None:
                assert bench.rel_error(npeer.to_numpy(npeer.run()), y) < bench.REL_TOL


def test_mismatch_is_reported_and_not_timed(tmp_path, monkeypatch, capsys):
    real = bench._numpy_peer

    def broken(p):
        impl = real(p)
        if impl is not None:
            run = impl.run
            impl.run = lambda: run() * 1.01
        return impl

    monkeypatch.setattr(bench, "_numpy_peer", broken)
    out = tmp_path / "r.json"
    args = FAST + ["--filter", "pw_384to64_14", "--layout", "NHWC", "--peers", "numpy",
                   "--json", str(out)]
    assert bench.main(args) == 1
    peer = _load(out)["results"][0]["peers"]["numpy"]
    assert peer["status"] == "mismatch" and "median_s" not in peer
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.err and "MISMATCH" in captured.out


def test_selection_and_own_cost():
    names = [c.name for c in bench.select_cases(bench.CASES, ["depthwise"], [], quick=True)]
    assert names and all(n.startswith("dw") for n in names)
    assert len(names) < len([c for c in bench.CASES if c.op == "depthwise"])
    assert [c.name for c in bench.select_cases(bench.CASES, bench.OPS, ["31x31"], True)] == [
        "dw31x31s1_c128_32"]
    dw = next(c for c in bench.CASES if c.name == "dw3x3s2_c96_112")
    assert dw.out_hw == (56, 56)
    flops, nbytes = bench._own_cost(dw, 2)
    assert flops == 2 * 2 * 96 * 56 * 56 * 9
    assert nbytes == 4 * (2 * 96 * 112 * 112 + 96 * 9 + 2 * 96 * 56 * 56)


def test_taps_inside_and_the_padding_note(capsys):
    c7 = bench.CASES_BY_NAME["dw3x3s1_c960_7"]
    assert c7.taps_inside == pytest.approx((19 / 21) ** 2)  # each border output loses one tap
    assert bench.CASES_BY_NAME["pw_384to64_14"].taps_inside == 1.0
    assert bench.main(FAST + ["--filter", SMALL, "--peers", "ref"]) == 0
    assert f"which the kernels skip; executed share: {SMALL} 91%" in capsys.readouterr().out


def test_rel_error():
    a = np.ones((2, 3), np.float32)
    assert bench.rel_error(a, a) == 0.0
    assert bench.rel_error(a, np.ones((3, 2))) == float("inf")
    assert bench.rel_error(a * np.nan, a) == float("inf")


def test_before_after_table_pairs_rows_by_case_layout_batch_threads():
    def row(case, median, gflops, torch_ratio):
        return {"case": case, "layout": "NHWC", "batch": 1, "threads": 1,
                "ours": {"status": "ok", "median_s": median, "gflops": gflops},
                "peers": {"torch": {"status": "ok", "ratio": torch_ratio}}}

    before = [row("a", 2e-3, 10.0, 0.8), row("gone", 1e-3, 5.0, 1.0)]
    after = [row("a", 1e-3, 20.0, 1.6), row("new", 1e-3, 5.0, 1.0)]
    head, rows = bench.before_after(after, before)
    assert head[4:7] == ["before GFLOP/s", "after GFLOP/s", "after/before"]
    assert rows == [["a", "NHWC", "1", "1", "10.0", "20.0", "2.00", "0.80", "1.60"]]
