"""Train a process reward model (per-step) or an outcome reward model on stepwise records.

  prm train --model path/to/causal-lm --train labels.jsonl --output-dir prm-out
  prm train --model M --train labels.jsonl --eval dev.jsonl --objective orm --output-dir orm-out
  prm train --model M --train pairs.jsonl --objective pairwise --output-dir bt-out
  prm train --model M --train labels.jsonl --seeds 0,1,2 --output-dir ens      # 3-member ensemble
  accelerate launch --config_file scripts/accelerate/ddp_cpu.yaml -m prm train ...   # multi-process

Input: stepwise JSONL (`{"prompt", "completions", "labels"}`, TRL's format): labels true/false (hard,
cross-entropy), floats in [0, 1] (soft, e.g. MC values: binary cross-entropy on the float, never
rounded) or null (not judged: no loss). Sequence = prompt + sep + steps joined by sep; the label
sits on the last token of each step's separator. If the separator is not one token, or BPE merges
it with neighbouring text, a step tag token is added (--step-tag auto). Samples whose steps do not
fit --max-length after left-truncating the prompt are dropped and counted.

Output: a normal HF model directory (LoRA merged) whose config.json carries `prm_toolkit`
(separator, step tag, objective, label semantics, training-data hash, verifier versions), so
`prm score` and `prm.scoring.load_scorer` need nothing else; plus train_report.json. A crashed run
resumes from OUTPUT_DIR/checkpoints when started again with the same arguments.
"""

from __future__ import annotations

from prm.errors import UserError


def add_arguments(p):
    g = p.add_argument_group("data and model")
    g.add_argument("--model", required=True, help="causal-LM checkpoint dir (or hub name where you have network)")
    g.add_argument("--train", required=True, help="stepwise JSONL to train on")
    g.add_argument("--eval", default=None, help="stepwise JSONL for step accuracy / AUROC / loss")
    g.add_argument("--output-dir", required=True, help="final model here; checkpoints in OUTPUT_DIR/checkpoints")
    g.add_argument("--objective", choices=["prm", "orm", "pairwise"], default="prm",
                   help="prm: label per step; orm: final correctness at the last step (BCE); "
                        "pairwise: Bradley-Terry on correct vs incorrect samples of one problem")
    g = p.add_argument_group("sequence")
    g.add_argument("--sep", default="\\n\\n", help="step separator (escapes allowed; code: \\n)")
    g.add_argument("--step-tag", default="auto",
                   help="auto: add a tag token only when needed; none: never; or the tag string to use")
    g.add_argument("--max-length", type=int, default=1024, help="max tokens per sample")
    g = p.add_argument_group("optimisation")
    g.add_argument("--lr", type=float, default=2e-5, help="learning rate")
    g.add_argument("--epochs", type=float, default=1.0, help="training epochs")
    g.add_argument("--max-steps", type=int, default=-1, help="optimizer steps (> 0 overrides --epochs)")
    g.add_argument("--batch-size", type=int, default=8, help="per-device train batch size")
    g.add_argument("--eval-batch-size", type=int, default=16, help="per-device eval batch size")
    g.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps")
    g.add_argument("--warmup", type=float, default=0.0, help="warm-up as a fraction of the steps")
    g.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--max-pairs-per-problem", type=int, default=8, help="pairwise: pairs sampled per problem")
    g.add_argument("--lora-r", type=int, default=0, help="LoRA rank (0 = full fine-tuning)")
    g.add_argument("--lora-alpha", type=int, default=16, help="LoRA alpha")
    g.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for memory")
    g.add_argument("--no-group-by-length", action="store_true", help="plain random batches (more padding)")
    g.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision")
    g = p.add_argument_group("checkpoints and logging")
    g.add_argument("--save-steps", type=int, default=200, help="checkpoint every N steps")
    g.add_argument("--eval-steps", type=int, default=None, help="evaluate every N steps (default: each epoch)")
    g.add_argument("--logging-steps", type=int, default=10, help="log loss every N steps")
    g.add_argument("--no-resume", action="store_true", help="ignore checkpoints already in OUTPUT_DIR")
    g.add_argument("--keep-checkpoints", action="store_true", help="keep OUTPUT_DIR/checkpoints after success")
    g = p.add_argument_group("ensembles")
    g.add_argument("--seeds", default=None, help="comma list: one member per seed, in OUTPUT_DIR/seed{S}")
    g.add_argument("--shards", type=int, default=None, help="K members on K disjoint problem shards")


def _unescape(s: str) -> str:
    return s.encode().decode("unicode_escape")


def config_from_args(args):
    from prm.train_config import TrainConfig

    try:
        return TrainConfig(
            model=args.model, train_file=args.train, eval_file=args.eval, output_dir=args.output_dir,
            objective=args.objective, sep=_unescape(args.sep), step_tag=args.step_tag,
            max_length=args.max_length, learning_rate=args.lr, num_train_epochs=args.epochs,
            max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=args.eval_batch_size, gradient_accumulation_steps=args.grad_accum,
            warmup_ratio=args.warmup, weight_decay=args.weight_decay, seed=args.seed,
            max_pairs_per_problem=args.max_pairs_per_problem, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
            gradient_checkpointing=args.gradient_checkpointing, group_by_length=not args.no_group_by_length,
            bf16=args.bf16, logging_steps=args.logging_steps, eval_steps=args.eval_steps,
            save_steps=args.save_steps, resume=not args.no_resume, keep_checkpoints=args.keep_checkpoints)
    except ValueError as e:
        raise UserError(str(e)) from None


def run(args) -> int:
    from prm.train import train_ensemble, train_rm

    cfg = config_from_args(args)
    if args.seeds and args.shards:
        raise UserError("give --seeds or --shards, not both")
    if args.seeds:
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise UserError(f"--seeds must be a comma list of integers, got {args.seeds!r}") from None
        dirs = train_ensemble(cfg, seeds=seeds)
    elif args.shards:
        if args.shards < 2:
            raise UserError("--shards needs at least 2")
        dirs = train_ensemble(cfg, shards=args.shards)
    else:
        dirs = [train_rm(cfg)]
    for d in dirs:
        print(f"saved {cfg.objective} model to {d}")
    return 0
