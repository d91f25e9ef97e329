"""pullguard's bundled samples (data only), installed as `pullguard.samples`.

Regenerate with `python -m devtools.make_samples`; find them with `pullguard.engine.samples.sample_dir()`.
"""
