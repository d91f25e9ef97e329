"""Kyverno `verifyImages` dialect. (Placeholder until the Kyverno loader lands: detects nothing.)"""


def detect(doc) -> bool:
    return False


def load(docs, path):
    raise NotImplementedError("Kyverno dialect not loaded yet")
