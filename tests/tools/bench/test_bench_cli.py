#!/usr/bin/env python3
"""`linrec bench` without a GPU: bad flags are exit 2 with a message naming the flag (checked before the GPU
is touched), and a valid command line ends in one clear "no CUDA device" line and exit 1. The driver is
pointed at a path that does not exist (LINREC_LIBCUDA), so this behaves the same on a machine with a GPU.

    python3 test_bench_cli.py PATH/TO/linrec SOURCE_DIR
"""
import os
import subprocess
import sys
import tempfile
import unittest

LINREC = SOURCE = None  # set from argv
ENV = dict(os.environ, LINREC_LIBCUDA="/nonexistent/libcuda.so.1")


def run(*args, cwd=None):
    p = subprocess.run([LINREC, "bench"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=ENV, cwd=cwd or SOURCE, timeout=120)
    return p.returncode, p.stdout, p.stderr


class BenchCli(unittest.TestCase):
    def assertNoDevice(self, rc, out, err):
        self.assertEqual(rc, 1, out + err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("linrec bench: no CUDA device: "), err)
        self.assertEqual(out, "")

    def assertBadInput(self, args, needle):
        rc, out, err = run(*args)
        self.assertEqual(rc, 2, "%s: %s%s" % (args, out, err))
        self.assertIn(needle, out + err, args)

    def test_help_documents_the_flop_count_and_the_floor(self):
        rc, out, err = run("--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("2*B*H*T*(C*K + C*V + 2*K*V)", out)
        for flag in ("--shapes", "--db", "--tune-budget-s", "--decode", "--decode-batches", "--peak-tbps",
                     "--json-out"):
            self.assertIn(flag, out)
        self.assertIn("32,1024,16,128,128", out)  # the default shapes

    def test_no_device_is_one_line_and_exit_1(self):
        self.assertNoDevice(*run("variants/kda.toml"))
        self.assertNoDevice(*run("variants/kda.toml", "--decode", "--decode-batches", "1,64"))

    def test_no_files_uses_the_bundled_families(self):
        self.assertNoDevice(*run())  # from the source tree
        with tempfile.TemporaryDirectory() as d:  # elsewhere: the source tree this binary was built from
            self.assertNoDevice(*run(cwd=d))

    def test_files_after_shapes_are_files(self):
        self.assertNoDevice(*run("--shapes", "8,4096,16,128,128", "variants/kda.toml"))

    def test_no_json_is_written_without_a_device(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "bench.json")
            self.assertNoDevice(*run("variants/kda.toml", "--json-out", out))
            self.assertEqual(os.listdir(d), [])

    def test_bad_flags_exit_2(self):
        self.assertBadInput(["--shapes", "1,2,3"], "--shapes: shape '1,2,3' must be five numbers")
        self.assertBadInput(["--shapes", "8,0,16,128,128"], "is not a positive integer")
        self.assertBadInput(["--dtype", "fp8"], "--dtype must be bf16, fp16 or fp32")
        self.assertBadInput(["--peak-tbps", "0"], "--peak-tbps must be positive")
        self.assertBadInput(["--peak-tbps", "-3"], "--peak-tbps must be positive")
        self.assertBadInput(["--tune-budget-s", "-1"], "--tune-budget-s must be 0")
        self.assertBadInput(["--decode", "--decode-batches", "1,0"], "--decode-batches: 0 is not a positive")
        self.assertBadInput(["--decode-steps", "0"], "--decode-steps must be positive")
        self.assertBadInput(["--min-reps", "0"], "--min-reps")
        self.assertBadInput(["--max-reps", "5"], "--max-reps")
        self.assertBadInput(["--no-prefill"], "--no-prefill leaves nothing to time without --decode")
        self.assertBadInput(["--db", "/nonexistent/kernels.db"], "--db: /nonexistent/kernels.db does not exist")
        self.assertBadInput(["--bogus"], "--bogus")
        self.assertBadInput(["no_such_variant.toml"], "no_such_variant.toml")

    def test_malformed_variant_exits_2(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.toml")
            with open(bad, "w") as fh:
                fh.write('[variant]\nname = "x"\n[decay]\nlog = "-softplus(zz)"\n')
            self.assertBadInput([bad], "undefined name 'zz'")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_bench_cli.py PATH/TO/linrec SOURCE_DIR")
    SOURCE = os.path.abspath(sys.argv.pop(2))
    LINREC = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
