"""pullguard's bundled samples (data only), installed as `pullguard_samples`.

Regenerate with `python -m devtools.make_samples`; find them with `engine.samples.sample_dir()`.
"""
