#!/usr/bin/env python3
"""linrec vs flash-linear-attention (fla), side by side, from the JSON each side's benchmark wrote.

    python3 bench/compare_fla.py LINREC_JSON FLA_JSON [--fla-layers JSON] [--out-dir DIR] [--date YYYY-MM-DD]
                                 [--commit SHA]

LINREC_JSON is what `linrec bench --json-out` writes; FLA_JSON is fla_bench.py's peer_fla.json. Rows are joined
on (family, B, T, H, K, V, mode): fla's prefill rows are named by their op ("simple_gla"), its decode rows
"decode_<family>" with T = 1. Writes DIR/vs-fla-<date>.json and DIR/vs-fla-<date>.md and prints the table.

Ratios are fla time / linrec time, so above 1 means linrec is faster. Prefill compares fla's fwd_ms with
linrec's event-timed median. Decode compares CUDA-graph replays when both sides have them (no launch
overhead on either side; basis "graph"), else fla's step_us with linrec's back-to-back wall time per step
(both include the launch; basis "eager"): fla's eager step is timed from Python, so comparing it with
linrec's event time would credit linrec with fla's launch overhead.

--fla-layers adds a second fla column from bench/fla_as_layers.py's peer_fla_layers.json: fla's ops called as
fla's layers call them, from the same pre-activation inputs linrec's variants take (l2norm, gates and beta
activations inside the timed region, as they are inside linrec's kernels). Its ratios and geomean are reported
beside the first ones, never in their place.

The summary's geomean covers prefill rows with T in {1024, 4096, 16384} that have both times; a row missing
on either side, or one that failed, is listed under "excluded" with the reason and counts nowhere.
Python 3 standard library only.
"""
import argparse
import datetime
import json
import math
import os
import sys
import tempfile

GEOMEAN_TS = (1024, 4096, 16384)
LONG = (1, 65536)  # the (B, T) of the long-context rows the summary lists on their own


def fail(msg):
    print("compare_fla.py: error: " + msg, file=sys.stderr)
    sys.exit(2)


def load(path, what):
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as e:
        fail("cannot read the %s JSON %s: %s" % (what, path, e))
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        fail("%s: not a %s benchmark JSON (no \"rows\" list)" % (path, what))
    return data


def number(x):
    """x as a float when it is a finite positive number, else None."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) and x > 0 else None


def key_of(family, r, mode):
    try:
        return (family, int(r["B"]), int(r["T"]) if mode == "prefill" else 1, int(r["H"]), int(r["K"]), int(r["V"]),
                mode)
    except (KeyError, TypeError, ValueError):
        return None


def index_fla(rows):
    """(family, B, T, H, K, V, mode) -> fla row; sdpa_causal rows by shape (softmax attention, for scale)."""
    out, sdpa = {}, {}
    for r in rows:
        op = r.get("op")
        if not isinstance(op, str):
            continue
        if op == "sdpa_causal":
            k = key_of("sdpa", r, "prefill")
            if k:
                sdpa[k[1:6]] = r
            continue
        mode, family = ("decode", op[len("decode_"):]) if op.startswith("decode_") else ("prefill", op)
        k = key_of(family, r, mode)
        if k:
            out[k] = r
    return out, sdpa


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def ms_or_none(us):
    return us / 1000.0 if us is not None else None


def compare(linrec, fla, bar, fla_layers=None):
    fla_rows, sdpa = index_fla(fla["rows"])
    layer_rows = index_fla(fla_layers["rows"])[0] if fla_layers else {}
    rows, seen = [], set()
    for r in linrec["rows"]:
        mode = r.get("mode", "prefill")
        k = key_of(r.get("family"), r, mode)
        if k is None:
            continue
        seen.add(k)
        f = fla_rows.get(k)
        row = {"family": k[0], "B": k[1], "T": k[2], "H": k[3], "K": k[4], "V": k[5], "mode": mode,
               "linrec_config": r.get("config"), "linrec_source": r.get("source"),
               "floor_ms": number(r.get("floor_ms"))}
        if r.get("error"):
            row["linrec_error"] = r["error"]
        if f is None:
            row["fla_missing"] = True
        elif f.get("error"):
            row["fla_error"] = f["error"]
        if mode == "prefill":
            row["linrec_ms"] = None if r.get("error") else number(r.get("linrec_ms"))
            row["fla_ms"] = number(f.get("fwd_ms")) if f else None
            if fla_layers:
                fl = layer_rows.get(k)
                row["fla_layers_ms"] = number(fl.get("fwd_ms")) if fl else None
                if fl and fl.get("error"):
                    row["fla_layers_error"] = fl["error"]
            s = sdpa.get(k[1:6])
            if s and number(s.get("fwd_ms")):
                row["sdpa_causal_ms"] = number(s.get("fwd_ms"))
        else:
            l_graph = None if r.get("error") else number(r.get("graph_step_us"))
            l_wall = None if r.get("error") else number(r.get("step_wall_us"))
            f_graph = number(f.get("graph_step_us")) if f else None
            f_step = number(f.get("step_us")) if f else None
            row.update({"linrec_graph_us": l_graph, "linrec_wall_us": l_wall,
                        "linrec_event_us": None if r.get("error") else number(r.get("step_event_us")),
                        "fla_graph_us": f_graph, "fla_step_us": f_step,
                        "graph_capturable": r.get("graph_capturable")})
            if l_graph and f_graph:
                row["ratio_basis"] = "graph"
                row["linrec_ms"], row["fla_ms"] = ms_or_none(l_graph), ms_or_none(f_graph)
            else:
                row["ratio_basis"] = "eager"
                row["linrec_ms"], row["fla_ms"] = ms_or_none(l_wall), ms_or_none(f_step)
        lm, fm = row["linrec_ms"], row["fla_ms"]
        row["ratio_fla_over_linrec"] = fm / lm if lm and fm else None
        row["linrec_over_floor"] = lm / row["floor_ms"] if lm and row["floor_ms"] else None
        row["fla_over_floor"] = fm / row["floor_ms"] if fm and row["floor_ms"] else None
        if fla_layers and mode == "prefill":
            flm = row.get("fla_layers_ms")
            row["ratio_fla_layers_over_linrec"] = flm / lm if lm and flm else None
        rows.append(row)
    # fla rows linrec has no row for: listed, so a family or shape that linrec skipped does not vanish.
    for k, f in sorted(fla_rows.items()):
        if k in seen:
            continue
        fm = number(f.get("fwd_ms")) if k[6] == "prefill" else ms_or_none(
            number(f.get("graph_step_us")) or number(f.get("step_us")))
        rows.append({"family": k[0], "B": k[1], "T": k[2], "H": k[3], "K": k[4], "V": k[5], "mode": k[6],
                     "linrec_ms": None, "fla_ms": fm, "floor_ms": None, "ratio_fla_over_linrec": None,
                     "linrec_over_floor": None, "fla_over_floor": None, "linrec_missing": True})

    def why_excluded(r):
        if r.get("linrec_missing"):
            return "no linrec row"
        if r.get("linrec_error"):
            return "linrec failed: " + str(r["linrec_error"]).splitlines()[0]
        if r.get("fla_missing"):
            return "no fla row"
        if r.get("fla_error"):
            return "fla failed: " + str(r["fla_error"]).splitlines()[0]
        return "no time"

    in_scope = [r for r in rows if r["mode"] == "prefill" and r["T"] in GEOMEAN_TS]
    used = [r for r in in_scope if r["ratio_fla_over_linrec"]]
    excluded = [{"family": r["family"], "B": r["B"], "T": r["T"], "why": why_excluded(r)}
                for r in in_scope if not r["ratio_fla_over_linrec"]]
    g = geomean([r["ratio_fla_over_linrec"] for r in used])
    worst = min(used, key=lambda r: r["ratio_fla_over_linrec"]) if used else None
    decode = [r["ratio_fla_over_linrec"] for r in rows if r["mode"] == "decode" and r["ratio_fla_over_linrec"]]
    summary = {
        "geomean_fla_over_linrec": g,
        "geomean_rows": len(used),
        "geomean_scope": "prefill rows with T in %s that both sides timed" % list(GEOMEAN_TS),
        "excluded": excluded,
        "bar": bar,
        "meets_bar": (g >= bar) if g is not None else None,
        "min_ratio_row": None if worst is None else {
            k: worst[k] for k in ("family", "B", "T", "H", "K", "V", "ratio_fla_over_linrec", "linrec_ms", "fla_ms")},
        "long_context_rows": [{"family": r["family"], "linrec_ms": r["linrec_ms"], "fla_ms": r["fla_ms"],
                               "ratio_fla_over_linrec": r["ratio_fla_over_linrec"],
                               "linrec_over_floor": r["linrec_over_floor"]}
                              for r in rows if r["mode"] == "prefill" and (r["B"], r["T"]) == LONG],
        "decode_geomean_fla_over_linrec": geomean(decode),
        "decode_rows": len(decode),
    }
    if fla_layers:
        lused = [r for r in in_scope if r.get("ratio_fla_layers_over_linrec")]
        lworst = min(lused, key=lambda r: r["ratio_fla_layers_over_linrec"]) if lused else None
        gl = geomean([r["ratio_fla_layers_over_linrec"] for r in lused])
        summary["fla_layers"] = {
            "contract": fla_layers.get("contract"),
            "geomean_fla_over_linrec": gl,
            "geomean_rows": len(lused),
            "meets_bar": (gl >= bar) if gl is not None else None,
            "min_ratio_row": None if lworst is None else {
                k: lworst[k] for k in ("family", "B", "T", "ratio_fla_layers_over_linrec", "linrec_ms",
                                       "fla_layers_ms")},
            "long_context_rows": [{"family": r["family"], "linrec_ms": r["linrec_ms"],
                                   "fla_layers_ms": r.get("fla_layers_ms"),
                                   "ratio_fla_layers_over_linrec": r.get("ratio_fla_layers_over_linrec")}
                                  for r in rows if r["mode"] == "prefill" and (r["B"], r["T"]) == LONG],
        }
    return rows, summary


def f3(x, spec="%.3f"):
    return spec % x if x is not None else "-"


def markdown(doc):
    s = doc["summary"]
    lines = ["# linrec vs fla, %s" % doc["date"], "",
             "%s; linrec %s (commit %s); fla: torch %s, triton %s. Ratio = fla ms / linrec ms (> 1: linrec faster); "
             "floor = bytes a launch must move at %s TB/s." % (
                 doc["device"], doc.get("linrec_version") or "?", doc.get("commit") or "?",
                 doc.get("fla_torch") or "?", doc.get("fla_triton") or "?", doc.get("peak_tbps") or "?")]
    if doc.get("linrec_complete") is False:
        lines.append("The linrec run did not finish (cut short): rows it did not reach are missing.")
    layers = "fla_layers" in s
    if layers:
        lines += ["", "fla (layers) = %s: the same pre-activation inputs as linrec's variants, with fla's l2norm, "
                  "gate and beta activations inside the timed region." % s["fla_layers"]["contract"]]
        lines += ["", "| family | shape (B, T, H, K, V) | linrec ms | fla ms | fla/linrec | fla (layers) ms "
                  "| fla (layers)/linrec | linrec/floor | linrec config |", "|---|---|---|---|---|---|---|---|---|"]
    else:
        lines += ["", "| family | shape (B, T, H, K, V) | linrec ms | fla ms | fla/linrec | linrec/floor | linrec config |",
                  "|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        if r["mode"] != "prefill":
            continue
        note = ""
        if r.get("linrec_error"):
            note = " (linrec failed)"
        elif r.get("linrec_missing"):
            note = " (no linrec row)"
        elif r.get("fla_error"):
            note = " (fla failed)"
        elif r.get("fla_missing"):
            note = " (no fla row)"
        cfg = (r.get("linrec_config") or "") + (" [%s]" % r["linrec_source"] if r.get("linrec_source") else "")
        extra = ""
        if layers:
            extra = " %s | %s |" % (f3(r.get("fla_layers_ms")), f3(r.get("ratio_fla_layers_over_linrec"), "%.2f"))
        lines.append("| %s | %d, %d, %d, %d, %d | %s | %s | %s |%s %s | %s%s |" % (
            r["family"], r["B"], r["T"], r["H"], r["K"], r["V"], f3(r["linrec_ms"]), f3(r["fla_ms"]),
            f3(r["ratio_fla_over_linrec"], "%.2f"), extra, f3(r["linrec_over_floor"], "%.1fx"), cfg, note))
    dec = [r for r in doc["rows"] if r["mode"] == "decode"]
    if dec:
        lines += ["", "Decode, per step (us; H=%d K=%d V=%d, fp32 state). Ratio basis \"graph\": both sides replay a "
                  "CUDA graph; \"eager\": launches included on both sides." % (dec[0]["H"], dec[0]["K"], dec[0]["V"]),
                  "", "| family | B | linrec graph | fla graph | linrec eager | fla eager | fla/linrec | basis |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in dec:
            lines.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                r["family"], r["B"], f3(r.get("linrec_graph_us"), "%.2f"), f3(r.get("fla_graph_us"), "%.2f"),
                f3(r.get("linrec_wall_us"), "%.2f"), f3(r.get("fla_step_us"), "%.2f"),
                f3(r["ratio_fla_over_linrec"], "%.2f"), r.get("ratio_basis", "-")))
    lines += ["", "Geomean fla/linrec over %s: **%s** (%d rows; bar %.2f: %s)." % (
        s["geomean_scope"], f3(s["geomean_fla_over_linrec"], "%.2f"), s["geomean_rows"], s["bar"],
        {True: "met", False: "not met", None: "no rows"}[s["meets_bar"]])]
    if s["min_ratio_row"]:
        m = s["min_ratio_row"]
        lines.append("Lowest: %s B=%d T=%d at %.2f." % (m["family"], m["B"], m["T"], m["ratio_fla_over_linrec"]))
    if layers:
        fl = s["fla_layers"]
        lines.append("Against fla (layers): geomean **%s** (%d rows; bar %.2f: %s)%s." % (
            f3(fl["geomean_fla_over_linrec"], "%.2f"), fl["geomean_rows"], s["bar"],
            {True: "met", False: "not met", None: "no rows"}[fl["meets_bar"]],
            "; lowest: %s B=%d T=%d at %.2f" % (fl["min_ratio_row"]["family"], fl["min_ratio_row"]["B"],
                                                fl["min_ratio_row"]["T"],
                                                fl["min_ratio_row"]["ratio_fla_layers_over_linrec"])
            if fl["min_ratio_row"] else ""))
    if s["excluded"]:
        lines.append("Not in the geomean: " + "; ".join(
            "%s B=%d T=%d (%s)" % (e["family"], e["B"], e["T"], e["why"]) for e in s["excluded"]) + ".")
    if s["decode_rows"]:
        lines.append("Decode geomean fla/linrec: %.2f over %d rows." % (s["decode_geomean_fla_over_linrec"],
                                                                      s["decode_rows"]))
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("linrec_json", help="from `linrec bench --json-out`")
    ap.add_argument("fla_json", help="peer_fla.json from fla_bench.py")
    ap.add_argument("--fla-layers", help="peer_fla_layers.json from bench/fla_as_layers.py: a second fla column")
    ap.add_argument("--out-dir", help="where vs-fla-<date>.{json,md} go (default: beside LINREC_JSON)")
    ap.add_argument("--date", help="YYYY-MM-DD for the file names (default: today, UTC)")
    ap.add_argument("--commit", help="linrec commit (default: the bench JSON's \"commit\")")
    ap.add_argument("--bar", type=float, default=1.5, help="geomean fla/linrec to meet (default 1.5)")
    a = ap.parse_args(argv)
    date = a.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    try:
        datetime.datetime.strptime(date, "%Y-%m-%d")
    except ValueError:
        fail("--date: '%s' is not YYYY-MM-DD" % date)
    linrec, fla = load(a.linrec_json, "linrec bench"), load(a.fla_json, "fla")
    fla_layers = load(a.fla_layers, "fla (layers)") if a.fla_layers else None
    out_dir = a.out_dir or os.path.dirname(os.path.abspath(a.linrec_json))
    os.makedirs(out_dir, exist_ok=True)

    rows, summary = compare(linrec, fla, a.bar, fla_layers)
    doc = {"device": linrec.get("device"), "fla_device": fla.get("device"),
           "commit": a.commit or linrec.get("commit"), "date": date,
           "linrec_version": linrec.get("linrec_version"), "kernel_build": linrec.get("kernel_build"),
           "peak_tbps": linrec.get("peak_tbps"), "fla_torch": fla.get("torch"), "fla_triton": fla.get("triton"),
           "fla_copy_TBps": fla.get("copy_TBps"), "rows": rows, "summary": summary}
    doc["linrec_complete"] = linrec.get("complete", True)
    if doc["linrec_complete"] is False:
        print("compare_fla.py: warning: %s is from a linrec bench run that did not finish: rows it did not reach "
              "are missing" % a.linrec_json, file=sys.stderr)
    if fla.get("device") and linrec.get("device") and fla["device"] != linrec["device"]:
        print("compare_fla.py: warning: linrec ran on %s, fla on %s: the ratios compare different GPUs"
              % (linrec["device"], fla["device"]), file=sys.stderr)
    md = markdown(doc)
    base = os.path.join(out_dir, "vs-fla-%s" % date)
    write_atomically(base + ".json", json.dumps(doc, indent=1) + "\n")
    write_atomically(base + ".md", md)
    sys.stdout.write(md)
    print("wrote %s.json and %s.md" % (base, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
