"""Torch thread settings on a shared CPU: a tiny-model training step, idle and beside one busy process.

  python scripts/bench/bench_threads.py              # 2-4 minutes on 2 loaded cores (torch's default is the slow part)
  python scripts/bench/bench_threads.py --steps 20 --busy 1

Each setting runs in its own process (OpenMP reads its environment once, at torch import): torch's
default threads, the toolkit's choice (`prm.threads`, as every `prm` command gets it), one thread,
and torch's default count with OpenMP's passive wait policy. Each is timed idle and then with
`--busy` other processes spinning (`while True: pass`).
The workload is one forward + backward + AdamW step of a policy-sized Llama (4 layers, hidden 128)
on a batch of 16 x 128 tokens, the shape of the demo's PRM and policy training. Reports the median
step time and the slowdown busy / idle. Other users of the machine make these numbers noisy: the
load average is printed next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Row, report  # noqa: E402

CHILD = r"""
import json, os, statistics, sys, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM
steps = int(sys.argv[1])
if sys.argv[2] == "prm":
    from prm.threads import apply
    apply()
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=512, hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
model = LlamaForCausalLM(cfg)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x = torch.randint(0, 512, (16, 128))
times = []
for i in range(steps + 2):
    t0 = time.perf_counter()
    loss = model(input_ids=x, labels=x).loss
    opt.zero_grad(); loss.backward(); opt.step()
    times.append(time.perf_counter() - t0)
print(json.dumps({"threads": torch.get_num_threads(), "step_s": statistics.median(times[2:])}))
"""

SETTINGS = {  # name -> (environment changes, how the child sets threads)
    "torch default": ({}, "none"),
    "prm.threads": ({}, "prm"),
    "1 thread": ({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, "none"),
    "all cores, passive wait": ({"OMP_WAIT_POLICY": "PASSIVE"}, "none"),
}
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "PRM_THREADS")


def run_child(steps: int, extra_env: dict, mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARS}
    env.update(extra_env)
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps), mode], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--busy", type=int, default=1, help="number of spinning processes beside the busy runs")
    args = ap.parse_args()
    print(f"cores {len(os.sched_getaffinity(0))}, load average at start {os.getloadavg()}")
    rows = {}
    for busy in (0, args.busy):
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(1.0 if busy else 0)
            for name, (env, mode) in SETTINGS.items():
                r = run_child(args.steps, env, mode)
                rows.setdefault(name, {})[busy] = r
                print(f"  {name:14s} busy={busy} threads={r['threads']} step {r['step_s'] * 1000:7.1f} ms "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)
        finally:
            for p in spinners:
                p.kill()
                p.wait()
    print("\n| setting | threads idle / busy | step idle | step busy | busy / idle |\n|---|---|---|---|---|")
    for name, r in rows.items():
        idle, busy = r[0], r[args.busy]
        print(f"| {name} | {idle['threads']} / {busy['threads']} | {idle['step_s'] * 1000:.0f} ms | "
              f"{busy['step_s'] * 1000:.0f} ms | {busy['step_s'] / idle['step_s']:.2f}x |")
    ours, theirs = rows["prm.threads"], rows["torch default"]
    report("threads", "torch threads on a shared CPU: prm.threads vs torch's default", [
        Row("training step, idle", ours[0]["step_s"] * 1000, theirs[0]["step_s"] * 1000, "ms", "lower"),
        Row(f"training step beside {args.busy} busy process(es)", ours[args.busy]["step_s"] * 1000,
            theirs[args.busy]["step_s"] * 1000, "ms", "lower"),
        Row("slowdown busy / idle", ours[args.busy]["step_s"] / ours[0]["step_s"],
            theirs[args.busy]["step_s"] / theirs[0]["step_s"], "x", "lower"),
    ], ours="prm.threads", theirs="torch default",
        notes=[f"{name}: {r[0]['threads']} threads idle, {r[args.busy]['threads']} busy; step "
               f"{r[0]['step_s'] * 1000:.0f} / {r[args.busy]['step_s'] * 1000:.0f} ms" for name, r in rows.items()]
        + ["'idle' is this machine as other users left it: see the load average in the header"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
