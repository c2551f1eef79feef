"""Storage on the file system: one machine, or directories every replica mounts.

    <model_dir>/ACTIVE                     the active version's name (replaced atomically)
    <model_dir>/activations.jsonl          every change of ACTIVE: when, who, from, to
    <model_dir>/versions/<version>/        model.joblib, model.joblib.sha256, card.json (read-only)
    <model_dir>/.fit.lock                  flock held for the whole of a fit
    <data_dir>/store/CURRENT               the current training set
    <data_dir>/store/sets/<set>/<seq>-<digest>.csv   one file per upload, written whole, fsync'd
    <data_dir>/jobs/<id>.json, jobs/pending/<id>     a job, and a marker while it is pending

A version is assembled in a hidden staging folder and renamed whole; `replace` starts a new set
and leaves the old ones, so every version can be traced to, and refitted from, its files.
"""
