"""Configuration: the pydantic model of `ingestd.toml` and a loader that reports `file:line` problems."""

from ingestd.config.loader import ConfigError, LoadedConfig, Problem, load
from ingestd.config.model import Settings

__all__ = ["ConfigError", "LoadedConfig", "Problem", "Settings", "load"]
