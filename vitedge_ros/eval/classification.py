"""Classification metrics."""
import numpy as np


def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of N×C scores against N labels."""
    logits = np.asarray(logits)
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        return 0.0
    return float((logits.reshape(labels.size, -1).argmax(axis=1) == labels).mean())


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of rows where two N×C score arrays have the same argmax."""
    a, b = np.asarray(a), np.asarray(b)
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean()) if a.size else 0.0
