"""The one config loader: YAML (or env) in, a frozen typed model out, every problem at once."""

from .loader import ConfigError, Problem, StrictModel, load_config, load_config_text

__all__ = ["ConfigError", "Problem", "StrictModel", "load_config", "load_config_text"]
