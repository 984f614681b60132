"""Settings of `prm demo`: one frozen dataclass, two presets (default and `--quick`).

Every size is fixed here before anything runs; nothing is adjusted after looking at a result (the
demo must never tune itself toward a PRM win). The PRM's label source, its aggregation for the
headline and the beam-search settings are declared here, not chosen from the outcome.

`threads=1`: the models here are tiny, so per-token overhead dominates and extra threads buy little,
while OpenMP worker threads spin-wait and thrash when other processes share the cores (measured:
one 30-token sample took 72 s with torch's default threads on a loaded 2-core machine, 0.9 s with 1).

Budget on 2 idle CPU cores, policies, judges and the learned pair shipped (scripts/bench/bench_demo.py,
BENCHMARKS.md `demo`, 7 December): the default took 8 min 22 s and `--quick` 2 min 37 s for math and
code, about 65 s of either being vLLM engine start-up; the rest is sampling (policy and MC rollouts),
training the four small reward models per domain and scoring the test pool with every reward model.
Training the two full tiny policies the first time adds about 5 minutes (they are shipped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from prm.search.beam import BeamConfig


# each reward model's outcome-supervised twin: the same model trained on the same samples' outcomes
TWINS = {"lprm": "lorm", "iprm": "iorm", "prm": "orm"}


@dataclass(frozen=True)
class DemoConfig:
    out: str = ""                               # output folder; "" -> runs/demo-TIMESTAMP
    quick: bool = False
    # the tiny policies: the full ones (about 40% / 57% held-out accuracy, ~5 min to train once, then
    # cached) or the quick ones (~1 min each, but right on ~2-3% of problems: a smoke test, whose
    # curves are noise). --quick shrinks the other stages and keeps the full policies.
    quick_policy: bool = False
    domains: tuple[str, ...] = ("math", "code")
    backend: str = "auto"                       # sampler: "auto" (vLLM when installed) | "vllm" | "transformers"
    scorer_backend: str = "transformers"        # scoring the tiny RMs: a second vLLM engine costs more than it saves
    seed: int = 0
    threads: int = 1                            # torch threads; see below
    cache_dir: str | None = None                # tiny-policy cache (None: ~/.cache/prm-toolkit or $PRM_CACHE_DIR)
    policies: tuple[tuple[str, str], ...] = ()  # (domain, model dir): use this policy instead of the tiny default
    # RM training data: samples of train-split problems, labeled by MC rollouts (both domains) and,
    # for math, also directly by the sympy checker
    n_train_problems: int = 48
    n_train_samples: int = 4
    mc_k: int = 4                               # rollouts per step prefix
    prm_labels: str = "mc"                      # the PRM trains on these labels ("mc" | "direct", math only)
    # what the PRM and ORM start from: "judge" = the judge backbone (prm/judge.py: the policy trained
    # further as a language model; shipped for math and code) or "policy". A PRM cannot learn from a few
    # thousand labels the arithmetic its backbone does not know (docs/prm_diagnosis.md).
    rm_backbone: str = "judge"
    # the zero-training likelihood-ratio scorer beta * log pi_judge / pi_policy per step, reported
    # beside the trained RMs when the backbone is the judge; beta and the per-step reading ("r")
    # were chosen on validation problems of the train split (docs/prm_diagnosis.md), never the test
    ratio_beta: float = 1.0
    rm_max_steps: int = 120                     # optimizer steps per reward model
    rm_batch_size: int = 16
    rm_learning_rate: float = 1e-3
    # The implicit pair: a PRM trained on the verifiers' step labels (process supervision, "iprm") and an
    # ORM trained on the outcome labels of the very same samples ("iorm"), both in the log-ratio
    # parametrization (prm/train/implicit.py) from the RM backbone against the policy, so they differ
    # only in their labels. Recipe chosen on the validation pool (BENCHMARKS.md `prm_supervision`).
    implicit_beta: float = 1.0
    implicit_learning_rate: float = 5e-5
    implicit_max_steps: int = 120
    # The learned pair (prm/learned.py): implicit process ("lprm") and outcome ("lorm") reward models
    # trained from the policy against itself, so the reward starts at exactly zero and ranks only by what
    # the verifiers' labels taught it, on 51,200 samples (step labels from the sympy checker). Too long
    # to train here (~35 min): loaded where one is shipped for the policy (math), else left out.
    learned_pair: bool = True
    # The headline reward model per domain, declared before the run (a domain not listed: "iprm").
    # math: "lprm", the family in which process supervision beats its outcome twin on the validation pool
    # (+20.9 points best-of-16 [+8.8, +31.2], BENCHMARKS.md `prm_supervision`); from the judge ("iprm")
    # no label kind can beat another, the judge's ratio already sits at the sound ceiling
    # (docs/prm_diagnosis.md sections 8, 11 and 12). code: "iprm" (no shipped learned pair: its labels
    # are MC rollouts, far too costly at 51,200 samples). "prm": the token-classification PRM, always
    # reported.
    headline_rms: tuple[tuple[str, str], ...] = (("math", "lprm"), ("code", "iprm"))
    # the PRM's step aggregation for the headline comparison, plots and quality rows; read once by
    # prm/demo.py and passed on (other aggregations are reported, never promoted after the fact)
    headline_aggregation: str = "min"
    # the evaluation pool: held-out test problems, N samples each
    n_test_problems: int = 200                  # the whole test split: +/-7 points on majority vote at N=16
    beam_problems: int = 40                     # beam search runs on the first of them (its cost grows per step)
    n_pool: int = 16
    temperature: float = 1.0
    max_tokens: int = 160
    repeats: int = 200                          # subsample draws per N
    beam: BeamConfig = field(default_factory=lambda: BeamConfig(beam_width=2, expand=2, max_steps=8,
                                                                max_step_tokens=48, temperature=1.0))

    def to_dict(self) -> dict:
        return asdict(self)

    def headline_rm(self, domain: str) -> str:
        """The reward model the headline is about in `domain` (beam search is guided by it)."""
        return dict(self.headline_rms).get(domain, "iprm")

    def headline(self, domain: str) -> str:
        """The one method the headline comparison is about, named before the run (results.json)."""
        return f"{self.headline_rm(domain)}:{self.headline_aggregation}"

    def declared_pairs(self, domain: str) -> tuple[tuple[str, str], ...]:
        """The headline against each reward model it must be read beside, declared before the run:
        its outcome-supervised twin, the zero-training judge/policy ratio, the judge-started process
        model, the token-classification PRM; and, where the headline is not from the judge, the
        judge-started pair against each other (absent methods are skipped)."""
        agg, rm = self.headline_aggregation, self.headline_rm(domain)
        twin = TWINS.get(rm, "iorm")
        a, twin = self.headline(domain), twin if twin == "orm" else f"{twin}:{agg}"   # an ORM has one score
        pairs = [(a, b) for b in (twin, f"ratio:{agg}", f"iprm:{agg}", f"prm:{agg}") if b != a]
        if rm != "iprm":
            pairs.append((f"iprm:{agg}", f"iorm:{agg}"))
        return tuple(dict.fromkeys(pairs))

    # -- the stage settings this config implies (each read in one place)
    def label_methods(self, domain: str) -> tuple[str, ...]:
        """MC rollouts for every domain; direct sympy labels too where the domain has a step checker."""
        from prm.labeling import methods_for

        return ("mc", "direct") if "direct" in methods_for(domain) else ("mc",)

    def prm_label_source(self, domain: str) -> str:
        return self.prm_labels if self.prm_labels in self.label_methods(domain) else "mc"

    def implicit_label_source(self, domain: str) -> str:
        """The verifier's own step labels where the domain has a step checker (math: direct), else MC."""
        return "direct" if "direct" in self.label_methods(domain) else "mc"

    def implicit_config(self, labels: str, model: str, ref_model: str, train_file, output_dir, sep: str):
        """The iprm (labels "step") or iorm (labels "outcome") run."""
        from prm.train import TrainConfig

        return TrainConfig(model=model, ref_model=ref_model, train_file=str(train_file), output_dir=str(output_dir),
                           objective="implicit", implicit_labels=labels, beta=self.implicit_beta, sep=sep,
                           max_steps=self.implicit_max_steps, per_device_train_batch_size=self.rm_batch_size,
                           learning_rate=self.implicit_learning_rate, warmup_ratio=0.05, seed=self.seed,
                           resume=False, save_steps=10 ** 6, logging_steps=10)

    def rollout(self):
        from prm.labeling.rollouts import RolloutConfig

        # seeded per prefix (prm/labeling/rollouts.py): the same seed gives the same labels, run after run
        return RolloutConfig(k=self.mc_k, temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)

    def train_pool(self):
        from prm.search.best_of_n import BestOfNConfig

        return BestOfNConfig(n=self.n_train_samples, temperature=self.temperature, max_tokens=self.max_tokens,
                             seed=self.seed)

    def test_pool(self):
        from prm.search.best_of_n import BestOfNConfig

        # another base seed than the train pool's: a test problem never reuses a train draw stream
        return BestOfNConfig(n=self.n_pool, temperature=self.temperature, max_tokens=self.max_tokens,
                             seed=self.seed + 1)

    def beam_config(self):
        return replace(self.beam, seed=self.seed)

    def train_config(self, objective: str, model: str, train_file, output_dir, sep: str):
        from prm.train import TrainConfig

        return TrainConfig(model=model, train_file=str(train_file), output_dir=str(output_dir), objective=objective,
                           sep=sep, max_steps=self.rm_max_steps, per_device_train_batch_size=self.rm_batch_size,
                           learning_rate=self.rm_learning_rate, seed=self.seed, resume=False, save_steps=10 ** 6,
                           logging_steps=10)

    def setup(self, domain: str) -> dict:
        return {"train problems": self.n_train_problems, "samples each": self.n_train_samples, "MC rollouts": self.mc_k,
                "PRM labels": self.prm_label_source(domain), "implicit PRM labels": self.implicit_label_source(domain),
                "test problems": self.n_test_problems,
                "beam problems": min(self.beam_problems, self.n_test_problems), "pool N": self.n_pool,
                "temperature": self.temperature}


QUICK = dict(quick=True, n_train_problems=16, n_train_samples=4, mc_k=2, rm_max_steps=30, implicit_max_steps=30,
             n_test_problems=16, beam_problems=16, n_pool=8, repeats=100,
             beam=BeamConfig(beam_width=2, expand=2, max_steps=6, max_step_tokens=48, temperature=1.0))


def preset(quick: bool = False, **overrides) -> DemoConfig:
    base = DemoConfig(**QUICK) if quick else DemoConfig()
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
