"""Policies: the two dialects pullguard reads (Talos, Kyverno) and what they share."""
