#!/usr/bin/env bash
# CI check of the multi-process paths, on CPU, against the single-process run of the same command.
#
#   bash scripts/ci_multiproc.sh [WORKDIR]            # WORKDIR kept for inspection (default: a temp dir)
#   PY=.venv/bin/python bash scripts/ci_multiproc.sh
#   STAGES="label" bash scripts/ci_multiproc.sh       # only one part: "label", "train" or "label train"
#
# 1. labeling with two sampler workers: `prm label --method mc` on the samples of 6 embedded math
#    problems, once in one process, once as two processes (each its own sampler) on two shards split
#    by problem id, run at the same time; the concatenated shard outputs must hold the same records
#    (same sample ids, steps, labels, MC values, rollout counts, first errors) as the one-process run.
# 2. training with `accelerate launch` on 2 CPU processes (DDP, gloo; scripts/accelerate/ddp_cpu.yaml,
#    see the note at the launch line for why not the bare `--cpu` flag): `prm train` on the labels, once as
#    one process with batch 12, once as 2 DDP processes with per-device batch 6 (every step holds all
#    12 records in both runs; see the note at the training command). Both must
#    run as asked (world size 2), read the same records, take the same optimizer steps, log the
#    same losses and give PRMs whose step scores agree to float noise (TOL).
#
# The numbers of each comparison go to WORKDIR/compare_label.json and WORKDIR/compare_train.json
# (and are printed); tests/test_multiproc.py asserts on them and on the runs' own files.
# Uses the embedded tiny policy (quick preset, trained on first use into the cache) and the
# transformers sampler backend. Exit 0 when every check passes; each failing check is printed (all run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PY:-$ROOT/.venv/bin/python}"
ACCELERATE="${ACCELERATE:-$(dirname "$PY")/accelerate}"
W="${1:-$(mktemp -d -t prm_multiproc_XXXX)}"
STAGES="${STAGES:-label train}"
TOL="${TOL:-1e-4}"          # max |single - DDP| of the logged losses and of P(correct) over the training steps
FAILED=0                    # a failed comparison is reported and the next check still runs
mkdir -p "$W"
echo "workdir: $W"
# one thread per process: the runs below share the cores (two labeling workers, two DDP ranks)
export TQDM_DISABLE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

# ---------------------------------------------------------------------------------------- data
"$PY" - "$W" <<'EOF'
import json, sys, zlib
from pathlib import Path
w = Path(sys.argv[1])
tasks = [json.loads(l) for l in open("data/tasks/math_train.jsonl")]

def write(problems, name):
    with open(w / f"problems{name}.jsonl", "w") as fp, open(w / f"samples{name}.jsonl", "w") as fs:
        for p in problems:
            fp.write(json.dumps(p) + "\n")
            steps = p["metadata"]["steps"]
            bad = list(steps)
            # a wrong first result carried to a wrong final answer: an error for the labelers to find
            for i in (0, len(bad) - 1):
                head, _, num = bad[i].rstrip(".").rpartition(" ")
                bad[i] = f"{head} {int(num) + 1}" + ("." if bad[i].endswith(".") else "") if num.lstrip("-").isdigit() else bad[i]
            for s in (steps, bad):
                fs.write(json.dumps({"problem_id": p["id"], "text": "\n\n".join(s), "steps": s}) + "\n")

write(tasks[:6], "")                                                      # labeling check
write([p for p in tasks if len(p["metadata"]["steps"]) == 4][:6], ".train")  # training check
# two shards by problem id: every sample of a problem stays in one shard, so sample ids match
shards = [open(w / f"samples.{i}.jsonl", "w") for i in range(2)]
for line in open(w / "samples.jsonl"):
    shards[zlib.crc32(json.loads(line)["problem_id"].encode()) % 2].write(line)
EOF
for i in 0 1; do
  test -s "$W/samples.$i.jsonl" || { echo "FAIL: shard $i is empty (change the problem count)"; exit 1; }
done

compare_labels() {  # single.jsonl merged.jsonl out.json: the numbers as JSON (printed too); exit 1 if they differ
  "$PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
KEYS = ("prompt", "completions", "labels", "mc_values", "n_rollouts", "first_error", "judged", "problem_id", "domain")
def load(p):
    out = {}
    for line in open(p):
        r = json.loads(line)
        out[r["sample_id"]] = {k: r.get(k) for k in KEYS}
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
diff = sorted(k for k in set(a) & set(b) if a[k] != b[k])
res = {"records_single": len(a), "records_sharded": len(b),
       "step_labels_single": sum(len(r["labels"]) for r in a.values()),
       "step_labels_sharded": sum(len(r["labels"]) for r in b.values()),
       "only_single": sorted(set(a) - set(b)), "only_sharded": sorted(set(b) - set(a)), "differing": diff}
res["equal"] = not (res["only_single"] or res["only_sharded"] or diff)
for k in diff[:3]:
    print("FAIL:", k, "\n  single :", a[k], "\n  sharded:", b[k])
open(sys.argv[3], "w").write(json.dumps(res, indent=1) + "\n")
print("labeling, 2 sampler workers vs 1 process:", json.dumps(res))
sys.exit(0 if res["equal"] else 1)
EOF
}

if [[ " $STAGES " == *" label "* ]]; then
  # one policy directory for all runs, trained (or found in the cache) before any of them starts, so
  # the workers neither wait on each other's training lock nor pick up a different policy version
  echo "== policy: the embedded tiny math policy (quick preset; trained once, then cached)"
  POLICY="$("$PY" -c "from prm.policy import ensure_policy; print(ensure_policy('math', quick=True))" | tail -n 1)"
  LABEL_ARGS=(--method mc --model "$POLICY" --backend transformers -k 2 --max-tokens 40 --seed 0 --batch-size 8
              --workers 1 --no-progress --problems "$W/problems.jsonl")
  echo "== labeling: one process"
  "$PY" -m prm label "${LABEL_ARGS[@]}" --samples "$W/samples.jsonl" --out "$W/labels.single.jsonl" --overwrite
  echo "== labeling: two sampler workers (two processes at once, one shard each)"
  pids=()
  for i in 0 1; do
    "$PY" -m prm label "${LABEL_ARGS[@]}" --samples "$W/samples.$i.jsonl" --out "$W/labels.$i.jsonl" --overwrite \
      > "$W/label.$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 0 1; do
    wait "${pids[$i]}" || { echo "FAIL: labeling worker $i failed:"; tail -20 "$W/label.$i.log"; exit 1; }
  done
  cat "$W/labels.0.jsonl" "$W/labels.1.jsonl" > "$W/labels.sharded.jsonl"
  compare_labels "$W/labels.single.jsonl" "$W/labels.sharded.jsonl" "$W/compare_label.json" || FAILED=1
fi

# ---------------------------------------------------------------------------------------- training
if [[ " $STAGES " == *" train "* ]]; then
  # training data: 12 samples of exactly 4 steps, every step labeled (direct labels, unjudged steps
  # counted correct). prm.train normalises the loss by the labeled steps of the whole global batch
  # (all ranks), so unequal counts per rank would give the same gradient too.
  TRAIN_DATA="$W/labels.train.jsonl"
  "$PY" -m prm label --method direct --unjudged correct --problems "$W/problems.train.jsonl" \
    --samples "$W/samples.train.jsonl" --out "$TRAIN_DATA" --overwrite --no-progress --workers 1
  BACKBONE="$("$PY" - "$W" <<'EOF'
import json, sys
from pathlib import Path
from prm.tiny import build_tiny_causal_lm
w = Path(sys.argv[1])
texts = [json.loads(l)["text"] for l in open(w / "samples.train.jsonl")] * 10
print(build_tiny_causal_lm(w / "backbone", texts))
EOF
)"
  # One global batch = all 12 records, 6 epochs = 6 optimizer steps. Why the whole set per step: the
  # single process draws its order with torch's RandomSampler, DDP with accelerate's seedable
  # sampler, so with smaller batches the two runs put different samples together (checked: same
  # seed, different per-step losses at lr ~ 0). With every sample in every step the gradient is the
  # same sum either way, and what is tested is DDP itself: two ranks of 6 whose gradients must be
  # averaged (rank 0 alone would have seen half the data and score differently).
  TRAIN_ARGS=(--model "$BACKBONE" --train "$TRAIN_DATA" --objective prm --epochs 6 --lr 1e-3 --seed 0
              --no-group-by-length --save-steps 100000 --logging-steps 1 --no-resume)
  echo "== training: one process, per-device batch 12"
  "$PY" -m prm train "${TRAIN_ARGS[@]}" --batch-size 12 --out "$W/prm.single"
  # `accelerate launch --cpu --num_processes 2` starts 2 processes only through mpirun in accelerate
  # 1.15 (without MPI it silently runs ONE); the ddp_cpu config starts 2 ranks with torchrun and
  # prm.train picks MULTI_CPU + gloo without CUDA. The world size is checked below.
  echo "== training: accelerate launch (scripts/accelerate/ddp_cpu.yaml: 2 CPU processes), per-device batch 6"
  "$ACCELERATE" launch --config_file scripts/accelerate/ddp_cpu.yaml --num_processes 2 \
    -m prm train "${TRAIN_ARGS[@]}" --batch-size 6 --out "$W/prm.ddp"
  # the numbers as JSON in $W/compare_train.json (printed too); exit 1 when a check fails
  if "$PY" - "$W" "$TRAIN_DATA" "$TOL" <<'EOF'
import json, sys
from pathlib import Path
w, data, tol = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
a = json.loads((w / "prm.single" / "train_report.json").read_text())
b = json.loads((w / "prm.ddp" / "train_report.json").read_text())
la = [h["loss"] for h in a["log_history"] if "loss" in h]
lb = [h["loss"] for h in b["log_history"] if "loss" in h]
from prm.scoring import load_scorer
items = [(r["prompt"], r["completions"]) for r in map(json.loads, open(data))]
sa = load_scorer(str(w / "prm.single"), backend="transformers")
sb = load_scorer(str(w / "prm.ddp"), backend="transformers")
pa, pb = sa.score_batch(items), sb.score_batch(items)
sa.close(); sb.close()
res = {"world_size": b.get("world_size"), "distributed_type": str(b.get("distributed_type")),
       "data_single": a["data"], "data_ddp": b["data"],
       "steps_single": a["train"].get("global_step", a["log_history"][-1].get("step")),
       "steps_ddp": b["train"].get("global_step", b["log_history"][-1].get("step")),
       "losses_single": la, "losses_ddp": lb,
       "max_loss_diff": max((abs(x - y) for x, y in zip(la, lb)), default=None),
       "scored_steps": sum(len(r) for r in pa),
       "max_score_diff": max(abs(x - y) for ra, rb in zip(pa, pb) for x, y in zip(ra, rb)), "tol": tol}
checks = {"2 CPU processes": res["world_size"] == 2 and "MULTI_CPU" in res["distributed_type"],
          "same data": a["data"] == b["data"], "same optimizer steps": res["steps_single"] == res["steps_ddp"],
          "same logged losses": len(la) == len(lb) > 0 and res["max_loss_diff"] <= tol,
          "same step scores": res["max_score_diff"] <= tol}
res["failed"] = [k for k, ok in checks.items() if not ok]
(w / "compare_train.json").write_text(json.dumps(res, indent=1) + "\n")
print("training, accelerate 2 processes vs 1 process:", json.dumps(res))
sys.exit(1 if res["failed"] else 0)
EOF
  then :; else FAILED=1; fi
fi
if [[ $FAILED -ne 0 ]]; then echo "some multi-process checks FAILED (see above)"; exit 1; fi
echo "all multi-process checks passed"
