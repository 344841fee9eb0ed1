"""Output folders compared across runs: a JSON file by its values (its provenance, which says
how many processes wrote it and when, left out; the rest re-serialised in its own key order),
every other file by its bytes."""
import json
import os

from specbias_ext.runs.ownership import MANIFEST
from specbias_ext.runs.provenance import PROVENANCE_KEY, without_provenance


def file_values(path):
    with open(path, "rb") as f:
        data = f.read()
    if not path.endswith(".json"):
        return data
    return json.dumps(without_provenance(json.loads(data)), indent=1)


def snapshot(folder) -> dict:
    """Every file of ``folder`` (hidden ones too: a leftover temporary file shows) and its
    values, but the folder's record of who wrote what (it holds the command line and time)."""
    return {p: file_values(os.path.join(folder, p)) for p in sorted(os.listdir(folder))
            if p != MANIFEST}


def provenance_of(path) -> dict:
    with open(path) as f:
        return json.load(f)[PROVENANCE_KEY]
