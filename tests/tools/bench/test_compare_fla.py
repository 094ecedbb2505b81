#!/usr/bin/env python3
"""bench/compare_fla.py on hand-made JSON (linrec_bench.json, peer_fla.json here): the join, the ratios, the
geomean and its exclusions, the decode basis, and bad input. The fixtures' numbers are chosen so every
expected value below is exact: prefill ratios 2, 0.5 and 8 (geomean 2), the long row 1.5, decode 2 (graph)
and 1.5 (eager).

    python3 test_compare_fla.py PATH/TO/compare_fla.py
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = None  # set from argv


def run(*args):
    p = subprocess.run([sys.executable, SCRIPT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


class CompareFla(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="compare_fla_test_")
        cls.rc, cls.out, cls.err = run(os.path.join(HERE, "linrec_bench.json"), os.path.join(HERE, "peer_fla.json"),
                                       "--out-dir", cls.tmp, "--date", "2026-01-02")
        path = os.path.join(cls.tmp, "vs-fla-2026-01-02.json")
        cls.doc = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                cls.doc = json.load(fh)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def row(self, family, B, T, mode="prefill"):
        hits = [r for r in self.doc["rows"] if (r["family"], r["B"], r["T"], r["mode"]) == (family, B, T, mode)]
        self.assertEqual(len(hits), 1, (family, B, T, mode))
        return hits[0]

    def test_runs_and_writes_both_files(self):
        self.assertEqual(self.rc, 0, self.err)
        self.assertIsNotNone(self.doc)
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "vs-fla-2026-01-02.md")))
        self.assertEqual(self.doc["date"], "2026-01-02")
        self.assertEqual(self.doc["commit"], "abc1234")
        self.assertEqual(self.doc["device"], "NVIDIA H100 80GB HBM3")

    def test_prefill_ratios_and_floor(self):
        r = self.row("simple_gla", 32, 1024)
        self.assertEqual((r["linrec_ms"], r["fla_ms"], r["floor_ms"]), (1.0, 2.0, 0.25))
        self.assertAlmostEqual(r["ratio_fla_over_linrec"], 2.0, places=12)
        self.assertAlmostEqual(r["linrec_over_floor"], 4.0, places=12)
        self.assertAlmostEqual(self.row("simple_gla", 8, 4096)["ratio_fla_over_linrec"], 0.5, places=12)
        self.assertAlmostEqual(self.row("simple_gla", 8, 4096)["sdpa_causal_ms"], 1.03, places=12)

    def test_geomean_covers_only_complete_rows_in_scope(self):
        s = self.doc["summary"]
        self.assertEqual(s["geomean_rows"], 3)
        self.assertAlmostEqual(s["geomean_fla_over_linrec"], 2.0, places=12)  # (2 * 0.5 * 8) ** (1/3)
        self.assertTrue(s["meets_bar"])
        self.assertEqual(s["min_ratio_row"]["family"], "simple_gla")
        self.assertEqual((s["min_ratio_row"]["B"], s["min_ratio_row"]["T"]), (8, 4096))
        self.assertAlmostEqual(s["min_ratio_row"]["ratio_fla_over_linrec"], 0.5, places=12)

    def test_missing_and_failed_rows_are_null_and_excluded(self):
        gla = self.row("gla", 8, 4096)
        self.assertIsNone(gla["fla_ms"])
        self.assertIsNone(gla["ratio_fla_over_linrec"])
        self.assertTrue(gla["fla_missing"])
        self.assertIsNone(self.row("gated_delta_rule", 8, 4096)["fla_ms"])
        kda = self.row("kda", 8, 4096)
        self.assertIsNone(kda["linrec_ms"])  # a failed check is never a number
        self.assertAlmostEqual(kda["fla_ms"], 2.1, places=12)
        self.assertIsNone(self.row("retention", 8, 4096)["linrec_ms"])  # fla-only rows are kept
        why = {e["family"]: e["why"] for e in self.doc["summary"]["excluded"]}
        self.assertEqual(set(why), {"kda", "gla", "gated_delta_rule", "retention"})
        self.assertTrue(why["kda"].startswith("linrec failed: check failed"))
        self.assertEqual(why["gla"], "no fla row")
        self.assertTrue(why["gated_delta_rule"].startswith("fla failed: "))
        self.assertEqual(why["retention"], "no linrec row")

    def test_long_context_rows_are_listed_not_averaged(self):
        long_rows = self.doc["summary"]["long_context_rows"]
        self.assertEqual([r["family"] for r in long_rows], ["simple_gla"])
        self.assertAlmostEqual(long_rows[0]["ratio_fla_over_linrec"], 1.5, places=12)
        self.assertAlmostEqual(long_rows[0]["linrec_over_floor"], 8.0, places=12)

    def test_decode_basis(self):
        g = self.row("simple_gla", 1, 1, "decode")
        self.assertEqual(g["ratio_basis"], "graph")  # both sides replayed a graph: 8 us / 4 us
        self.assertAlmostEqual(g["ratio_fla_over_linrec"], 2.0, places=12)
        e = self.row("gated_delta_rule", 64, 1, "decode")
        self.assertEqual(e["ratio_basis"], "eager")  # linrec could not capture: fla 30 us / linrec wall 20 us
        self.assertAlmostEqual(e["ratio_fla_over_linrec"], 1.5, places=12)
        self.assertAlmostEqual(self.doc["summary"]["decode_geomean_fla_over_linrec"], math.sqrt(3.0), places=12)

    def test_markdown_table(self):
        with open(os.path.join(self.tmp, "vs-fla-2026-01-02.md"), encoding="utf-8") as fh:
            md = fh.read()
        self.assertIn("| simple_gla | 32, 1024, 16, 128, 128 | 1.000 | 2.000 | 2.00 | 4.0x |", md)
        self.assertIn("| gla | 8, 4096, 16, 128, 128 | 1.000 | - | - | 4.0x |", md)
        self.assertIn("**2.00** (3 rows", md)
        self.assertIn("gla B=8 T=4096 (no fla row)", md)
        self.assertIn(md, self.out)  # the table is printed too

    def test_bar_is_a_parameter(self):
        with tempfile.TemporaryDirectory() as d:
            rc, _, err = run(os.path.join(HERE, "linrec_bench.json"), os.path.join(HERE, "peer_fla.json"),
                             "--out-dir", d, "--date", "2026-01-02", "--bar", "2.5")
            self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "vs-fla-2026-01-02.json"), encoding="utf-8") as fh:
                self.assertFalse(json.load(fh)["summary"]["meets_bar"])

    def test_a_run_cut_short_is_flagged(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(HERE, "linrec_bench.json"), encoding="utf-8") as fh:
                partial = json.load(fh)
            partial["complete"] = False
            partial["rows"] = partial["rows"][:1]
            path = os.path.join(d, "partial.json")
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(partial, fh)
            rc, out, err = run(path, os.path.join(HERE, "peer_fla.json"), "--out-dir", d, "--date", "2026-01-02")
            self.assertEqual(rc, 0, err)
            self.assertIn("did not finish", err)
            self.assertIn("did not finish", out)
            with open(os.path.join(d, "vs-fla-2026-01-02.json"), encoding="utf-8") as fh:
                doc = json.load(fh)
            self.assertFalse(doc["linrec_complete"])
            self.assertEqual(doc["summary"]["geomean_rows"], 1)
            # fla rows the run did not reach stay in the table, without a linrec time
            self.assertIsNone([r for r in doc["rows"] if (r["family"], r["B"]) == ("simple_gla", 8)][0]["linrec_ms"])

    def test_fla_layers_column(self):
        # peer_fla_layers.json: simple_gla 4, 4, 2 ms (ratios 4, 2, 2: geomean 2^(4/3)), the long row 2 / 4,
        # gla a failed check. The first fla column and its geomean must not change.
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run(os.path.join(HERE, "linrec_bench.json"), os.path.join(HERE, "peer_fla.json"),
                               "--fla-layers", os.path.join(HERE, "peer_fla_layers.json"), "--out-dir", d,
                               "--date", "2026-01-02")
            self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "vs-fla-2026-01-02.json"), encoding="utf-8") as fh:
                doc = json.load(fh)
            s = doc["summary"]
            self.assertAlmostEqual(s["geomean_fla_over_linrec"], 2.0, places=12)
            fl = s["fla_layers"]
            self.assertEqual(fl["geomean_rows"], 3)
            self.assertAlmostEqual(fl["geomean_fla_over_linrec"], 2 ** (4 / 3), places=12)
            self.assertEqual((fl["min_ratio_row"]["B"], fl["min_ratio_row"]["T"]), (8, 4096))
            self.assertAlmostEqual(fl["long_context_rows"][0]["ratio_fla_layers_over_linrec"], 0.5, places=12)
            rows = {(r["family"], r["B"]): r for r in doc["rows"] if r["mode"] == "prefill"}
            self.assertAlmostEqual(rows[("simple_gla", 32)]["ratio_fla_layers_over_linrec"], 4.0, places=12)
            self.assertIsNone(rows[("gla", 8)]["fla_layers_ms"])
            self.assertIn("differs", rows[("gla", 8)]["fla_layers_error"])
            self.assertIn("| simple_gla | 32, 1024, 16, 128, 128 | 1.000 | 2.000 | 2.00 | 4.000 | 4.00 | 4.0x |", out)
            self.assertIn("Against fla (layers): geomean **2.52** (3 rows", out)

    def test_bad_input_exits_2(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.json")
            with open(bad, "w") as fh:
                fh.write("{not json")
            rc, _, err = run(bad, os.path.join(HERE, "peer_fla.json"), "--out-dir", d)
            self.assertEqual(rc, 2)
            self.assertIn("cannot read the linrec bench JSON", err)
            rc, _, err = run(os.path.join(HERE, "linrec_bench.json"), os.path.join(d, "missing.json"), "--out-dir", d)
            self.assertEqual(rc, 2)
            self.assertIn("cannot read the fla JSON", err)
            with open(bad, "w") as fh:
                fh.write('{"device": "x"}')
            rc, _, err = run(os.path.join(HERE, "linrec_bench.json"), bad, "--out-dir", d)
            self.assertEqual(rc, 2)
            self.assertIn('no "rows" list', err)
            rc, _, err = run(os.path.join(HERE, "linrec_bench.json"), os.path.join(HERE, "peer_fla.json"),
                             "--out-dir", d, "--date", "02/01/2026")
            self.assertEqual(rc, 2)
            self.assertEqual(os.listdir(d), ["bad.json"])  # nothing written on bad input


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_compare_fla.py PATH/TO/compare_fla.py")
    SCRIPT = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
