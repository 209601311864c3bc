"""What every figure and table calls a method (the label its registration gives: the paper's names for its
methods, readable names for the others, the raw name where none is known), and rho, mu and tau as symbols in
figures."""
import re

from imbalance_jax import methods

REFERENCE = methods.get(methods.with_role(methods.REFERENCE)).label  # the balanced reference's line in figures
TABLE_NOTE = ("method: the paper's name for its methods, a readable one for the others; config name: the name in "
              "results.csv and config.methods.")


def method_label(name: str) -> str:
    """A method's display name (plain text, for tables and figures); the raw name when none is known."""
    found = methods.lookup(name)
    return found.label if found is not None and found.label else name


def symbols(text: str) -> str:
    """text with the words rho, mu and tau as matplotlib mathtext symbols (figures only; Markdown keeps words)."""
    return re.sub(r"\b(rho|mu|tau)\b", lambda m: rf"$\{m[1]}$", text)
