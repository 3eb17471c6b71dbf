"""Settings: environment (prefix CES_) over a TOML file (CES_CONFIG), validated with clear messages."""

from ces.config.problems import ConfigError, Problem
from ces.config.settings import Settings, load_settings

__all__ = ["ConfigError", "Problem", "Settings", "load_settings"]
