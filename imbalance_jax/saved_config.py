"""A study's saved config.json as a config file: `--config=<workdir>/config.json` is read through here.

  get_config("runs/quick/config.json")
"""
import json

import ml_collections


def _tuples(value):
    """JSON arrays back to the tuples the configs use (overrides are type-checked against them)."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def get_config(path: str) -> ml_collections.ConfigDict:
    """The config a study saved in its workdir."""
    with open(path) as f:
        try:
            saved = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}); pass the config file the study was started with") from e
    return ml_collections.ConfigDict(_tuples(saved))
