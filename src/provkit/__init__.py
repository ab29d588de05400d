"""provkit: conformance suite and stress runner for durable-orchestration storage providers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("provkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
