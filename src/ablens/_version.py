"""The package version, single-sourced for the build and ``ablens --version``."""

__version__ = "0.1.0"
