"""Reproduction of Ganin & Lempitsky (2015), Unsupervised Domain Adaptation by Backpropagation (DANN).

``from dann_from_scratch import DANNClassifier`` gives the scikit-learn estimator; it (and
scikit-learn with it) is imported on first use, so ``import dann_from_scratch`` stays quick.
"""
_LAZY = {"DANNClassifier": "estimator", "KeepWhole": "estimator"}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value          # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
