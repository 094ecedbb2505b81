#!/usr/bin/env python3
"""fla computing what linrec's variant files compute, from the same inputs: each op called the way fla's own
layer calls it, with the layer's activations between its projections and the op inside the timed region.

    PYTHONPATH=.peer OUT=DIR SHAPES='B,T,H,K,V;...' python3 bench/fla_as_layers.py

fla_bench.py (../shared/peer) times each op on inputs prepared outside the timing: q and k already
l2-normalised, the decay already in log space, beta already a sigmoid. linrec's variants (variants/*.toml)
take the pre-activations and do that work inside their kernels. Here fla gets the pre-activations too:

| family | what is timed (inputs: q, k, v in bf16, N(0, 1); pre-activations in bf16; A_log, dt_bias in fp32) |
|---|---|
| linear_attn | chunk_linear_attn(q, k, v, normalize=False), as in fla_bench.py (identity maps) |
| retention | chunk_retention(q, k, v), as in fla_bench.py (the decay is a constant per head) |
| simple_gla | g = -exp(A_log) * softplus(a + dt_bias) in torch (fla's Mamba2-style layers), chunk_simple_gla |
| gla | g = logsigmoid(gk) / 16 in torch (fla.layers.gla), chunk_gla |
| delta_rule | beta = sigmoid(b) in torch (fla.layers.delta_net), chunk_delta_rule(use_qk_l2norm_in_kernel) |
| gated_delta_rule | chunk_gated_delta_rule with the l2norm, gate and beta-sigmoid options fla.layers.gated_deltanet sets |
| kda | chunk_kda with the l2norm, gate and beta-sigmoid options fla.layers.kda sets |

With OPS_TOO=1 each row is also timed under fla_bench.py's contract in the same process (one Triton autotune
for both, which keeps a whole comparison inside one device call): the same op calls on inputs prepared as
fla_bench.py prepares them (q, k l2-normalised for the delta rules, g = logsigmoid(N(0,1) + 4) [/ 16 per key],
beta = sigmoid(U(0,1))), written to $OUT/peer_fla_ops.json.

Before timing, each family's output on a small problem is compared with a float64 recurrence written from the
variant file (o_t = K^-1/2 S_t^T q~_t; additive: S_t = diag(alpha_t) S_{t-1} + k~_t v_t^T; delta:
S_t = diag(alpha_t) S_{t-1} + beta_t k~_t (v_t - (diag(alpha_t) S_{t-1})^T k~_t)^T), so a row is only timed
when fla computes the same function; "check_rel_err" is recorded per row. Rows are written in fla_bench.py's
format ("op", "B", "T", "H", "K", "V", "fwd_ms") to $OUT/peer_fla_layers.json, so bench/compare_fla.py can join
them (--fla-layers). Timing: triton.testing.do_bench, warmup 25, rep 100, median, as fla_bench.py.
"""
import json
import math
import os
import sys
import types

import torch
import torch.nn.functional as F
import triton

OUT = os.environ.get("OUT", "/tmp")
DEV = "cuda"
CHECK_TOL = 2e-2  # bf16 inputs and outputs against float64: fla_bench-style tolerance for a 16-bit op

try:
    import fla  # noqa: F401
except Exception as e:  # the package root pulls in layers/models; the ops alone are enough
    print("fla root import failed, using ops only:", repr(e)[:200])
    m = types.ModuleType("fla")
    m.__path__ = [os.path.join(os.getcwd(), ".peer", "fla")]
    sys.modules["fla"] = m
from fla.ops.delta_rule import chunk_delta_rule  # noqa: E402
from fla.ops.gated_delta_rule import chunk_gated_delta_rule  # noqa: E402
from fla.ops.gla import chunk_gla  # noqa: E402
from fla.ops.kda import chunk_kda  # noqa: E402
from fla.ops.linear_attn import chunk_linear_attn  # noqa: E402
from fla.ops.retention import chunk_retention  # noqa: E402
from fla.ops.simple_gla import chunk_simple_gla  # noqa: E402


def inputs(B, T, H, K, V, seed):
    g = torch.Generator(device=DEV).manual_seed(seed)

    def rn(*shape, dtype=torch.bfloat16):
        return torch.randn(*shape, device=DEV, generator=g, dtype=torch.float32).to(dtype)
    return {"q": rn(B, T, H, K), "k": rn(B, T, H, K), "v": rn(B, T, H, V),
            "a": rn(B, T, H), "b": rn(B, T, H), "gk": rn(B, T, H, K),
            "A_log": rn(H, dtype=torch.float32), "dt_bias": rn(H, dtype=torch.float32),
            "dt_bias_k": rn(H * K, dtype=torch.float32)}


# Each family: (the call as fla's layer makes it, the variant's math for the reference).
def simple_gla_gate(d):
    return -d["A_log"].exp() * F.softplus(d["a"].float() + d["dt_bias"])


OPS = {
    "linear_attn": lambda d: chunk_linear_attn(d["q"], d["k"], d["v"], normalize=False)[0],
    "retention": lambda d: chunk_retention(d["q"], d["k"], d["v"])[0],
    "simple_gla": lambda d: chunk_simple_gla(d["q"], d["k"], d["v"], g=simple_gla_gate(d))[0],
    "gla": lambda d: chunk_gla(d["q"], d["k"], d["v"], g=F.logsigmoid(d["gk"]) / 16)[0],
    "delta_rule": lambda d: chunk_delta_rule(d["q"], d["k"], d["v"], d["b"].sigmoid(),
                                             use_qk_l2norm_in_kernel=True)[0],
    "gated_delta_rule": lambda d: chunk_gated_delta_rule(
        d["q"], d["k"], d["v"], g=d["a"], beta=d["b"], A_log=d["A_log"], dt_bias=d["dt_bias"],
        use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True, use_beta_sigmoid_in_kernel=True)[0],
    "kda": lambda d: chunk_kda(
        d["q"], d["k"], d["v"], g=d["gk"], beta=d["b"], A_log=d["A_log"], dt_bias=d["dt_bias_k"],
        use_qk_l2norm_in_kernel=True, use_gate_in_kernel=True, use_beta_sigmoid_in_kernel=True)[0],
}


# fla_bench.py's contract: the op alone, its inputs prepared outside the timing.
OPS_PRE = {
    "linear_attn": ("l2", lambda d: chunk_linear_attn(d["q"], d["k"], d["v"], normalize=False)[0]),
    "retention": ("", lambda d: chunk_retention(d["q"], d["k"], d["v"])[0]),
    "simple_gla": ("gh", lambda d: chunk_simple_gla(d["q"], d["k"], d["v"], g=d["g"])[0]),
    "gla": ("gk", lambda d: chunk_gla(d["q"], d["k"], d["v"], g=d["g"])[0]),
    "delta_rule": ("l2 beta", lambda d: chunk_delta_rule(d["q"], d["k"], d["v"], d["beta"])[0]),
    "gated_delta_rule": ("l2 gh beta", lambda d: chunk_gated_delta_rule(d["q"], d["k"], d["v"], d["g"],
                                                                        d["beta"])[0]),
    "kda": ("l2 gk beta", lambda d: chunk_kda(d["q"], d["k"], d["v"], d["g"], d["beta"])[0]),
}


def inputs_pre(B, T, H, K, V, need):
    q = torch.randn(B, T, H, K, device=DEV, dtype=torch.bfloat16)
    k = torch.randn(B, T, H, K, device=DEV, dtype=torch.bfloat16)
    d = {"q": q, "k": k, "v": torch.randn(B, T, H, V, device=DEV, dtype=torch.bfloat16)}
    if "l2" in need:
        d["q"] = F.normalize(q.float(), dim=-1).to(torch.bfloat16)
        d["k"] = F.normalize(k.float(), dim=-1).to(torch.bfloat16)
    if "gh" in need:
        d["g"] = F.logsigmoid(torch.randn(B, T, H, device=DEV, dtype=torch.float32) + 4.0)
    if "gk" in need:
        d["g"] = F.logsigmoid(torch.randn(B, T, H, K, device=DEV, dtype=torch.float32) + 4.0) / 16
    if "beta" in need:
        d["beta"] = torch.rand(B, T, H, device=DEV, dtype=torch.bfloat16).sigmoid()
    return d


def time_ms(fn, d):
    with torch.no_grad():
        fn(d)  # autotunes on the first call
        torch.cuda.synchronize()
        return triton.testing.do_bench(lambda: fn(d), warmup=25, rep=100, return_mode="median")


def timed_row(row, fn, make_inputs):
    """Times fn on fresh inputs into row["fwd_ms"], or records why it could not."""
    try:
        d = make_inputs()
        row["fwd_ms"] = time_ms(fn, d)
        del d
    except Exception as e:  # record and go on, as fla_bench.py does
        row["error"] = repr(e)[:300]
    torch.cuda.empty_cache()


def reference(name, d):
    """float64 recurrence of variants/<name>.toml on d's (16-bit) values: o [B, T, H, V]."""
    q, k, v = (d[x].double() for x in ("q", "k", "v"))
    B, T, H, K = q.shape
    V = v.shape[-1]
    a, b, gk = d["a"].double(), d["b"].double(), d["gk"].double()
    A_log, dt_bias, dt_bias_k = d["A_log"].double(), d["dt_bias"].double(), d["dt_bias_k"].double().view(H, K)
    if name in ("delta_rule", "gated_delta_rule", "kda"):
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    # log decay per (b, t, h, key)
    zero = torch.zeros(B, T, H, K, dtype=torch.float64, device=DEV)
    if name == "retention":
        logd = zero + torch.log(1 - 2.0 ** (-5.0 - torch.arange(H, device=DEV, dtype=torch.float64)))[:, None]
    elif name in ("simple_gla", "gated_delta_rule"):
        logd = zero + (-A_log.exp() * F.softplus(a + dt_bias))[..., None]
    elif name == "gla":
        logd = F.logsigmoid(gk) / 16
    elif name == "kda":
        logd = -A_log.exp()[:, None] * F.softplus(gk + dt_bias_k)
    else:
        logd = zero
    beta = torch.sigmoid(b)
    S = torch.zeros(B, H, K, V, dtype=torch.float64, device=DEV)
    o = torch.empty(B, T, H, V, dtype=torch.float64, device=DEV)
    for t in range(T):
        S = S * logd[:, t].exp()[..., None]
        kt, vt = k[:, t], v[:, t]
        if name in ("delta_rule", "gated_delta_rule", "kda"):
            vt = beta[:, t][..., None] * (vt - torch.einsum("bhkv,bhk->bhv", S, kt))
        S = S + kt[..., None] * vt[..., None, :]
        o[:, t] = torch.einsum("bhkv,bhk->bhv", S, q[:, t]) * K ** -0.5
    return o


def rel_err(x, ref):
    x = x.double()
    if not torch.isfinite(x).all():
        return math.inf
    return ((x - ref).abs().max() / ref.abs().max().clamp_min(1e-300)).item()


def main():
    shapes = [(32, 1024, 16, 128, 128), (8, 4096, 16, 128, 128), (2, 16384, 16, 128, 128),
              (1, 65536, 16, 128, 128)]
    if os.environ.get("SHAPES"):
        shapes = [tuple(int(x) for x in sh.split(",")) for sh in os.environ["SHAPES"].split(";")]
    skip = set(os.environ.get("SKIP_OPS", "").split(","))
    ops_too = bool(os.environ.get("OPS_TOO"))
    torch.manual_seed(0)
    head = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__}
    res = dict(head, contract="fla's ops as fla's layers call them, from linrec's variant inputs "
               "(bench/fla_as_layers.py)", rows=[])
    res_ops = dict(head, contract="fla_bench.py's: the op alone on inputs prepared outside the timing "
                   "(bench/fla_as_layers.py, OPS_TOO=1)", rows=[])
    for name, fn in OPS.items():
        if name in skip:
            continue
        # Same function first: a small problem against the variant's float64 recurrence.
        try:
            d = inputs(1, 200, 2, 128, 128, seed=7)
            with torch.no_grad():
                err = rel_err(fn(d), reference(name, d))
        except Exception as e:
            err, why = math.inf, repr(e)[:300]
        else:
            why = None
        for (B, T, H, K, V) in shapes:
            row = {"op": name, "B": B, "T": T, "H": H, "K": K, "V": V, "check_rel_err": err}
            if err > CHECK_TOL:
                row["error"] = why or ("fla's output differs from the variant's float64 recurrence: relative error "
                                      "%.3g > %.0e" % (err, CHECK_TOL))
            else:
                timed_row(row, fn, lambda: inputs(B, T, H, K, V, seed=1))
            res["rows"].append(row)
            print(json.dumps(row), flush=True)
            if ops_too:
                need, fn_pre = OPS_PRE[name]
                orow = {"op": name, "B": B, "T": T, "H": H, "K": K, "V": V, "contract": "ops"}
                timed_row(orow, fn_pre, lambda: inputs_pre(B, T, H, K, V, need))
                res_ops["rows"].append(orow)
                print(json.dumps(orow), flush=True)
            # Written after every row, so a run cut short keeps what it measured.
            write_json(os.path.join(OUT, "peer_fla_layers.json"), res)
            if ops_too:
                write_json(os.path.join(OUT, "peer_fla_ops.json"), res_ops)
    ops = {(r["op"], r["B"], r["T"]): r.get("fwd_ms") for r in res_ops["rows"]}
    print("\nop                 B     T  layers_ms  ops_ms  check_rel_err")
    for r in res["rows"]:
        o = ops.get((r["op"], r["B"], r["T"]))
        print("%-18s %3d %6d %9s %7s  %.2e%s" % (
            r["op"], r["B"], r["T"], "%.3f" % r["fwd_ms"] if "fwd_ms" in r else "-", "%.3f" % o if o else "-",
            r["check_rel_err"], "  " + r["error"][:120] if "error" in r else ""))
    return 0


def write_json(path, doc):
    with open(path + ".tmp", "w") as fh:
        json.dump(doc, fh, indent=1)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
