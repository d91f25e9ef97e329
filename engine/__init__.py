"""pullguard's engine: everything pullguard knows about image-verification policies.

The engine never imports the UI (`tui`, `textual`); the CLI and the TUI are two faces
of the same calls made here.
"""
