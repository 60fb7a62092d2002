"""bench/forward helper: times numpy float32 matmuls (OpenBLAS sgemm) of the shapes the engine ran.

Run by bench/forward.ts with Debian's /usr/bin/python3 and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
removed from the environment. Reads JSON on stdin: {"shapes": [{"b","m","k","n","ta","tb","count"}],
"reps": R}; writes JSON on stdout: total seconds for all the matmuls (each shape timed as the best
of R runs, times its count), GFLOP/s, and what numpy/BLAS it used.
"""
import json
import os
import sys
import time

import numpy as np


def blas_name():
    try:
        info = np.__config__.get_info("blas_opt_info")  # numpy < 1.26
        libs = info.get("libraries", [])
        return ",".join(libs) or "unknown"
    except Exception:  # noqa: BLE001 - best effort, informational only
        return "unknown"


def main():
    req = json.load(sys.stdin)
    reps = int(req.get("reps", 3))
    rng = np.random.default_rng(0)
    total_s = 0.0
    total_flops = 0.0
    rows = []
    for s in req["shapes"]:
        b, m, k, n, count = s["b"], s["m"], s["k"], s["n"], s["count"]
        a = rng.standard_normal((b, k, m) if s.get("ta") else (b, m, k), dtype=np.float32)
        w = rng.standard_normal((b, n, k) if s.get("tb") else (b, k, n), dtype=np.float32)
        if s.get("ta"):
            a = a.transpose(0, 2, 1)
        if s.get("tb"):
            w = w.transpose(0, 2, 1)
        if b == 1:
            a, w = a[0], w[0]
        np.matmul(a, w)  # warm-up
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            np.matmul(a, w)
            best = min(best, time.perf_counter() - t0)
        flops = 2.0 * b * m * k * n
        total_s += best * count
        total_flops += flops * count
        rows.append({**s, "seconds": best})
    json.dump(
        {
            "numpy": np.__version__,
            "blas": blas_name(),
            "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
            "seconds": total_s,
            "gflops": total_flops / total_s / 1e9 if total_s > 0 else None,
            "shapes": rows,
        },
        sys.stdout,
    )


main()
