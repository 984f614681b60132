"""Verifiers for prm-toolkit: math answer equivalence and step checking (`verifiers.math`), code
execution (`verifiers.code`). This package imports nothing from `prm`, so it can be used alone."""
