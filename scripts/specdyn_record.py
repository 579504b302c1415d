#!/usr/bin/env python3
"""Read specdyn run records into Python, with every array as a numpy array.

A record is one JSON file. An array with at most 20000 numbers is stored inline as (nested) JSON
lists; a larger one lives in a .npy file next to the record and appears in its place as
{"npy": "<file>", "shape": [...]}. JSON null stands for NaN/Inf. `load` resolves both forms:

    import specdyn_record as sr
    rec = sr.load("runs/mlp3_tanh_mup_N1024_....json")
    loss = rec["train_loss"]                      # numpy array
    sv = rec["spectra"]["W1"]["singular_values"]  # numpy array, or a list of arrays if ragged

Command line: `python3 scripts/specdyn_record.py RECORD.json` prints the record's outline
(keys, kinds, shapes).
"""
import json
import os
import sys

import numpy as np


def _number(x):
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _resolve(v, directory):
    """npy references to arrays, numeric (nested) lists to float arrays (None = NaN), ragged
    lists of numeric lists to lists of arrays; everything else unchanged."""
    if isinstance(v, dict):
        if set(v) == {"npy", "shape"}:
            return np.load(os.path.join(directory, v["npy"]))
        return {k: _resolve(x, directory) for k, x in v.items()}
    if isinstance(v, list) and v:
        if all(_number(x) for x in v):
            return np.array([np.nan if x is None else x for x in v], dtype=float)
        items = [_resolve(x, directory) for x in v]
        if all(isinstance(x, np.ndarray) for x in items):
            if len({x.shape for x in items}) == 1:
                return np.stack(items)
        return items
    return v


def load(path):
    """The record at `path` with every array (inline or .npy) as numpy; keeps `_path`."""
    with open(path) as f:
        raw = json.load(f)
    rec = _resolve(raw, os.path.dirname(os.path.abspath(path)))
    rec["_path"] = path
    return rec


def outline(v, indent=0):
    pad = "  " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) or isinstance(x, np.ndarray):
                print(f"{pad}{k}:", end="")
                if isinstance(x, dict):
                    print()
                    outline(x, indent + 1)
                else:
                    outline(x, 0)
            else:
                print(f"{pad}{k}: {x!r}"[:120])
    elif isinstance(v, np.ndarray):
        print(f" array {v.shape}")
    elif isinstance(v, list):
        print(f" list of {len(v)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    outline(load(sys.argv[1]))
