"""The Node's version (SemVer), shown by `ora --version` and compared by the updater."""

__version__ = "0.1.0"
