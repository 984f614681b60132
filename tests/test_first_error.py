"""One first-error rule, several call sites: each variant pinned on the same inputs.

The expected columns were captured from the code before the variants were merged into
`prm/first_error.py` (labeling/base.py, formats/_common.py, search/verified.py, the inline scan in
labeling/direct.py, formats/processbench.py's label builder, labeling/agreement.py's `hard`)."""

from __future__ import annotations

import pytest

from prm.first_error import AFTER_ERROR, after_error_label, first_error, hard_label, labels_from_first_error

INPUTS = [
    [], [True], [False], [None], [True, True], [True, False, True], [True, None, False], [None, False],
    [True, None], [True, 0.0], [True, 0.5, 0.0], [0.0], [1.0, 0.25], [0.25, None, 0.0], [False, None, 0.0],
    [True, 1.0, False, None],
]

# one column per call site, one entry per INPUTS row
EXPECTED = {
    "labeler":  [None, None, 0, None, None, 1, 2, 1, None, 1, 2, 0, None, 2, 0, 2],
    "format":   [-1, -1, 0, None, -1, 1, None, None, None, 1, 2, 0, -1, None, 0, 2],
    "verifier": [-1, -1, 0, -1, -1, 1, 2, 1, -1, -1, -1, -1, -1, -1, 0, 2],
    "direct":   [None, None, 0, None, None, 1, 2, 1, None, None, None, None, None, None, 0, 2],
}

# the parameters each call site passes (see the table in prm/first_error.py)
PARAMS = {
    "labeler": dict(missing=None),
    "format": dict(none_stops=True),
    "verifier": dict(soft=False),
    "direct": dict(soft=False, missing=None),
}


def _old_names():
    from prm.formats._common import first_error_of
    from prm.labeling.base import first_false
    from prm.search.verified import first_false as verifier_first_false

    return {"labeler": first_false, "format": first_error_of, "verifier": verifier_first_false}


CASES = [(variant, labels, want) for variant, col in EXPECTED.items() for labels, want in zip(INPUTS, col)]


@pytest.mark.parametrize("variant,labels,want", CASES)
def test_shared_first_error_reproduces_each_variant(variant, labels, want):
    assert first_error(labels, **PARAMS[variant]) == want


@pytest.mark.parametrize("variant,labels,want", [c for c in CASES if c[0] in _old_names()])
def test_names_imported_today_keep_their_behaviour(variant, labels, want):
    assert _old_names()[variant](labels) == want


@pytest.mark.parametrize("verdicts,outcome,fe", [
    ([True, False, None], None, 1),
    ([None, True], None, None),       # nothing wrong found, not every step checked: unknown
    ([True, True], None, -1),         # every step checked
    ([0.0, True], None, -1),          # a verdict is never soft: 0.0 is not False
])
def test_direct_first_error(verdicts, outcome, fe):
    from prm.labeling.direct import DirectConfig, direct_labels

    assert direct_labels(verdicts, outcome, DirectConfig())[1] == fe


LABEL_CASES = [(3, -1), (3, 0), (4, 2), (2, None), (1, 0), (5, 4), (0, -1)]
LABELS = {
    "incorrect": [[True, True, True], [False, False, False], [True, True, False, False], [None, None], [False],
                  [True, True, True, True, False], []],
    "unlabeled": [[True, True, True], [False, None, None], [True, True, False, None], [None, None], [False],
                  [True, True, True, True, False], []],
}


@pytest.mark.parametrize("after", AFTER_ERROR)
@pytest.mark.parametrize("k", range(len(LABEL_CASES)))
def test_labels_from_first_error(after, k):
    n, fe = LABEL_CASES[k]
    assert labels_from_first_error(n, fe, after) == LABELS[after][k]


@pytest.mark.parametrize("after", AFTER_ERROR)
@pytest.mark.parametrize("k", [k for k, (n, fe) in enumerate(LABEL_CASES) if fe is not None and n > 0])
def test_processbench_reader_builds_the_same_labels(after, k):
    from prm.formats.processbench import from_row

    n, fe = LABEL_CASES[k]
    (rec,) = from_row({"id": 1, "problem": "p", "steps": ["s"] * n, "label": fe}, "w", after_error=after)
    assert rec.labels == LABELS[after][k] and rec.extra["first_error"] == fe


def test_after_error_policies_and_their_order():
    assert AFTER_ERROR == ("incorrect", "unlabeled")
    assert (after_error_label("incorrect"), after_error_label("unlabeled")) == (False, None)
    with pytest.raises(ValueError, match="after_error must be one of"):
        after_error_label("ignore")


@pytest.mark.parametrize("value,want", [(None, None), (True, True), (False, False), (0.0, False), (0.25, True),
                                        (1.0, True), (1, True), (0, False)])
def test_hard_label(value, want):
    from prm.labeling.agreement import hard

    assert hard_label(value) is want and hard(value) is want


def test_cli_after_error_defaults_unchanged():
    """`prm label` lists incorrect first (default incorrect); `prm convert` lists unlabeled first
    (default unlabeled: ProcessBench annotates only the first error)."""
    import argparse
    import importlib

    def flag(command):
        parser = argparse.ArgumentParser()
        importlib.import_module(f"prm.commands.{command}").add_arguments(parser)
        return next(a for a in parser._actions if "--after-error" in a.option_strings)

    label, convert = flag("label"), flag("convert")
    assert (tuple(label.choices), label.default) == (("incorrect", "unlabeled"), "incorrect")
    assert tuple(convert.choices) == ("unlabeled", "incorrect")
    assert "default unlabeled" in convert.help
