"""The one config loader: YAML in, a frozen typed model out, every problem at once, input bounded."""

from .loader import ConfigError, Problem, StrictModel, load_config, load_config_text
from .secrets import read_md5_key

__all__ = ["ConfigError", "Problem", "StrictModel", "load_config", "load_config_text", "read_md5_key"]
