"""Per-kernel CUDA times of fla's chunked forward (torch.profiler), for the delta families at one shape.
PYTHONPATH=.peer python3 scripts/fla-profile.py  (env SHAPE='B,T,H,K,V', OPS=gated_delta_rule,delta_rule,kda)"""
import os, sys, types
import torch
import torch.nn.functional as F
try:
    import fla  # noqa
except Exception:
    m = types.ModuleType("fla"); m.__path__ = [os.path.join(os.getcwd(), ".peer", "fla")]; sys.modules["fla"] = m
from fla.ops.delta_rule import chunk_delta_rule
from fla.ops.gated_delta_rule import chunk_gated_delta_rule
from fla.ops.kda import chunk_kda
B, T, H, K, V = map(int, os.environ.get("SHAPE", "2,16384,16,128,128").split(","))
dev = "cuda"
q = F.normalize(torch.randn(B, T, H, K, device=dev), dim=-1).bfloat16()
k = F.normalize(torch.randn(B, T, H, K, device=dev), dim=-1).bfloat16()
v = torch.randn(B, T, H, V, device=dev, dtype=torch.bfloat16)
gh = F.logsigmoid(torch.randn(B, T, H, device=dev) + 4.0)
gk = F.logsigmoid(torch.randn(B, T, H, K, device=dev) + 4.0) / 16
beta = torch.rand(B, T, H, device=dev, dtype=torch.bfloat16).sigmoid()
ops = {"delta_rule": lambda: chunk_delta_rule(q, k, v, beta),
       "gated_delta_rule": lambda: chunk_gated_delta_rule(q, k, v, gh, beta),
       "kda": lambda: chunk_kda(q, k, v, gk, beta)}
for name in os.environ.get("OPS", "gated_delta_rule,delta_rule").split(","):
    f = ops[name]
    for _ in range(3): f()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(10): f()
        torch.cuda.synchronize()
    print(f"== fla {name} B={B} T={T} H={H}: per-kernel CUDA time over 10 calls")
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=70))
