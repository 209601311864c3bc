"""The one way to a study's config: a config file (configs/*.py, with an optional `:variant`), a saved
config.json, or a workdir's own config.json; every entry point reads its config here, then applies the
command line's --config.<key>=<value> overrides with ml_collections' own flag machinery (cli.run_app).

  load("configs/quick.py")              # get_config()
  load("configs/cifar10.py:appendix_a")  # get_config("appendix_a")
  load(None, workdir="runs/quick")       # the study's saved config.json
"""
import importlib.util
import inspect
import json
import os
from typing import Optional

import ml_collections

from imbalance_jax import config_schema

SAVED = "config.json"


def _tuples(value):
    """JSON arrays back to the tuples the configs use (overrides are type-checked against them)."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def read_saved(path: str) -> ml_collections.ConfigDict:
    """A config a study saved (config.json), with the keys its version lacked at their defaults."""
    try:
        with open(path) as f:
            saved = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); pass the config file the study was started with, "
                         "e.g. --config=configs/quick.py") from e
    if not isinstance(saved, dict):
        raise ValueError(f"{path} holds {type(saved).__name__}, not a study's config; pass the config file the "
                         "study was started with, e.g. --config=configs/quick.py")
    return config_schema.complete(ml_collections.ConfigDict(_tuples(saved)))


def _from_file(path: str, variant: str) -> ml_collections.ConfigDict:
    """get_config() (or get_config(variant)) of a Python config file."""
    spec = importlib.util.spec_from_file_location("_imbalance_jax_config", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ValueError(f"--config={path} is not a Python config file ({e.msg}, line {e.lineno}); use one of "
                         "configs/*.py or a study's config.json") from e
    get_config = getattr(module, "get_config", None)
    if get_config is None:
        raise ValueError(f"--config={path} defines no get_config(); use one of configs/*.py or a study's "
                         "config.json")
    takes = [p for p in inspect.signature(get_config).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if variant and not takes:
        raise ValueError(f"--config={path}:{variant}: {path} takes no variant after ':'; use --config={path}")
    config = get_config(variant) if variant else get_config()
    if not isinstance(config, ml_collections.ConfigDict):
        raise ValueError(f"--config={path}: get_config() returned {type(config).__name__}, not a ConfigDict")
    return config


def load(config_arg: Optional[str], workdir: Optional[str] = None) -> ml_collections.ConfigDict:
    """The config --config names (a .py file, optionally `:variant`, or a saved .json), or without one the
    workdir's saved config; a ValueError says what to pass instead."""
    if not config_arg:
        path = os.path.join(workdir, SAVED) if workdir else None
        if path is None or not os.path.isfile(path):
            where = f"{workdir} holds no {SAVED}" if workdir else "no --workdir was given"
            raise ValueError(f"give --config=<config file> (e.g. configs/quick.py), or --workdir of a study that "
                             f"holds a {SAVED} ({where})")
        return read_saved(path)
    path, _, variant = config_arg.partition(":")
    if not os.path.isfile(path):
        raise ValueError(f"--config={path}: no such config file; use one of configs/*.py (e.g. "
                         "--config=configs/quick.py) or a study's <workdir>/config.json")
    if path.endswith(".json"):
        if variant:
            raise ValueError(f"--config={config_arg}: a saved config.json takes no ':{variant}'")
        return read_saved(path)
    if not path.endswith(".py"):
        raise ValueError(f"--config={path} is neither a config file (.py) nor a study's config.json; use one of "
                         "configs/*.py (e.g. --config=configs/quick.py)")
    return _from_file(path, variant)
