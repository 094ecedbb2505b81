#!/usr/bin/env python3
"""Checks `linrec run` end to end on the GPU: writes random linear-attention inputs as safetensors, runs the
kernel through the CLI, and compares o and final_state with a float64 quadratic-form reference (pure Python)."""
import json, math, random, struct, subprocess, sys, tempfile, os

def write_st(path, tensors):
    header, data, off = {}, b"", 0
    for name, (dtype, shape, vals) in sorted(tensors.items()):
        fmt = {"F32": "f", "I64": "q"}[dtype]
        blob = struct.pack("<%d%s" % (len(vals), fmt), *vals)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        data += blob
        off += len(blob)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)

def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        assert t["dtype"] == "F32", t
        out[name] = list(struct.unpack("<%df" % ((e - b) // 4), raw[8 + n + b:8 + n + e]))
    return out

def main():
    linrec, variant = sys.argv[1], sys.argv[2]
    B, T, H, K, V = 2, 45, 3, 64, 64
    rnd = random.Random(5)
    r = lambda n: [rnd.gauss(0, 1) for _ in range(n)]
    q, k, v = r(B * T * H * K), r(B * T * H * K), r(B * T * H * V)
    h0 = [x * 0.1 for x in r(B * H * K * V)]
    d = tempfile.mkdtemp()
    inp, outp = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
    write_st(inp, {"q": ("F32", [B, T, H, K], q), "k": ("F32", [B, T, H, K], k), "v": ("F32", [B, T, H, V], v),
                   "initial_state": ("F32", [B, H, K, V], h0)})
    subprocess.run([linrec, "run", variant, "--inputs", inp, "--out", outp], check=True)
    got = read_st(outp)
    f = lambda x: struct.unpack("f", struct.pack("f", x))[0]  # the kernel reads fp32 inputs
    q, k, v, h0 = [f(x) for x in q], [f(x) for x in k], [f(x) for x in v], [f(x) for x in h0]
    scale = 1 / math.sqrt(K)
    worst_o = worst_s = 0.0
    max_o = max_s = 0.0
    for b in range(B):
        for h in range(H):
            S = [[h0[((b * H + h) * K + i) * V + j] for j in range(V)] for i in range(K)]
            for t in range(T):
                base = ((b * T + t) * H + h)
                kt, vt, qt = k[base * K:(base + 1) * K], v[base * V:(base + 1) * V], q[base * K:(base + 1) * K]
                for i in range(K):
                    row, ki = S[i], kt[i]
                    for j in range(V):
                        row[j] += ki * vt[j]
                for j in range(V):
                    o = scale * sum(qt[i] * S[i][j] for i in range(K))
                    worst_o = max(worst_o, abs(got["o"][base * V + j] - o))
                    max_o = max(max_o, abs(o))
            for i in range(K):
                for j in range(V):
                    s = S[i][j]
                    worst_s = max(worst_s, abs(got["final_state"][((b * H + h) * K + i) * V + j] - s))
                    max_s = max(max_s, abs(s))
    eo, es = worst_o / max_o, worst_s / max_s
    print("linrec run %s: o rel err %.2e, final_state rel err %.2e (fp32, tolerance 1e-5)" % (variant, eo, es))
    sys.exit(0 if eo <= 1e-5 and es <= 1e-5 else 1)

main()
