"""Building and releasing the Node: `build` (PyInstaller, `make dist`), `release` (TUF signing)."""
