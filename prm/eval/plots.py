"""Figures, drawn with matplotlib's Agg backend (no display needed, safe in worker processes).

`plot_bon` draws accuracy versus N (log2 axis), one line per method with its interval band, plus
optional extra points (beam search placed at its compute-equivalent N). The title, axis labels and
legend say everything needed to read it without the report.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

# stable colours per family so the two domains' plots read the same way
_STYLE = {"oracle": ("0.6", ":"), "random": ("0.3", "--"), "majority": ("tab:green", "-"),
          "sympy": ("tab:brown", "-.")}


_PALETTE = ["tab:blue", "tab:red", "tab:purple", "tab:orange", "tab:cyan", "tab:pink", "tab:olive"]


def _style(name: str, families: list[str]):
    """Colour by reward model (and aggregation), line style by selection: `X` solid, `weighted:X`
    dashed, `sympy+X` dash-dot; the baselines keep fixed styles."""
    if name in _STYLE:
        return _STYLE[name]
    fam = name.replace("weighted:", "").replace("sympy+", "")
    if fam in _STYLE:
        color = _STYLE[fam][0]
    else:
        if fam not in families:
            families.append(fam)
        color = _PALETTE[families.index(fam) % len(_PALETTE)]
    ls = "--" if name.startswith("weighted:") else ("-." if name.startswith("sympy+") else "-")
    return color, ls


def default_plot_methods(curves: dict, aggregation: str = "min") -> list[str]:
    """The headline lines: baselines, each ORM, each PRM with the declared headline `aggregation`,
    its weighted vote, and the sympy reranker; the rest stay in the report's tables so the figure
    stays readable."""
    keep = []
    for name in curves["methods"]:
        parts = name.replace("weighted:", "").replace("sympy+", "").split(":")
        if name.startswith("sympy+") and name != "sympy+" + ":".join(parts):
            continue
        if name in ("random", "majority", "oracle", "sympy") or len(parts) == 1 or parts[-1] == aggregation:
            if not name.startswith("sympy+") or parts[-1] == aggregation:
                keep.append(name)
    return keep


def plot_bon(curves: dict, path: str | Path, title: str, methods: list[str] | None = None,
             points: list[dict] | None = None, aggregation: str = "min") -> Path:
    """`curves` is `Curves.to_dict()`; `points` are {"label", "n", "mean", "lo", "hi"} markers."""
    names = methods or default_plot_methods(curves, aggregation)
    fig, ax = plt.subplots(figsize=(8.5, 4.8), dpi=110)
    families: list[str] = []
    for name in names:
        s = curves["methods"][name]
        color, ls = _style(name, families)
        ax.plot(s["n"], s["mean"], ls, color=color, marker="o", ms=3, lw=1.6, label=name)
        ax.fill_between(s["n"], s["lo"], s["hi"], color=color, alpha=0.07, lw=0)
    for p in points or []:
        ax.errorbar([p["n"]], [p["mean"]], yerr=[[p["mean"] - p["lo"]], [p["hi"] - p["mean"]]], fmt="*",
                    ms=12, color="black", capsize=3, label=p["label"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(curves["ns"])
    ax.set_xticklabels([str(n) for n in curves["ns"]])
    ax.set_xlabel("N (samples per problem; beam search at equal generated tokens)")
    ax.set_ylabel("accuracy of the selected sample")
    # zoom to the data (low accuracies stay readable) but keep 0 on the axis so gaps are not inflated
    top = max([max(curves["methods"][n]["hi"]) for n in names] + [p["hi"] for p in points or []] + [0.05])
    ax.set_ylim(-0.02, min(1.02, top + 0.08))
    ax.grid(alpha=0.3)
    ax.set_title(f"{title}\n{curves['n_problems']} problems, {curves['repeats']} subsample draws per N, "
                 f"bands = {int(curves['level'] * 100)}% interval", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
