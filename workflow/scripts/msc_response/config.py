"""Configuration helpers that do not depend on Snakemake."""

from __future__ import annotations

import copy

#: The data paths: a user's own config names them all, or the example's are used.
DATA_KEYS = ("counts", "samples", "annotation")


def replace_merged_keys(config: dict, user_config: dict, keys: list[str]) -> None:
    """Undo Snakemake's key-by-key merge for `keys`: where the user's own config (from
    --configfile/--config) sets one of them, its value replaces the default whole."""
    for key in keys:
        if key in (user_config or {}):
            config[key] = copy.deepcopy(user_config[key])


def uses_own_data(user_config: dict | None, configfiles) -> bool:
    """A user runs on their own data when they give a --configfile, or name one of the
    data paths with --config; only a run without either is the example's."""
    return bool(configfiles) or any(key in (user_config or {}) for key in DATA_KEYS)


def take_data_paths(config: dict, user_config: dict | None, configfiles) -> None:
    """Data paths from the user's config alone when they run on their own data.

    Snakemake merges a --configfile into config/config.yaml key by key, so a user
    file without `annotation` would silently get the example's annotation (and one
    without `counts`, the example's counts). Here a path the user did not set is
    removed instead: `annotation` then means none, and a missing `counts` or
    `samples` is reported by `missing_data_paths`.
    """
    if not uses_own_data(user_config, configfiles):
        return
    for key in DATA_KEYS:
        if key in (user_config or {}):
            config[key] = copy.deepcopy(user_config[key])
        else:
            config.pop(key, None)
    config.setdefault("annotation", None)


def missing_data_paths(config: dict, configfiles) -> str | None:
    """The message for required data paths (`counts`, `samples`) missing from the
    user's config, or None."""
    missing = [key for key in ("counts", "samples") if not config.get(key)]
    if not missing:
        return None
    files = ", ".join(f"'{f}'" for f in configfiles) or "your --config settings"
    keys = " and ".join(f"'{key}'" for key in missing)
    example = "\n".join(f"  {key}: path/to/your/{key}.tsv" for key in missing)
    return (
        f"config: {keys} missing from {files}. With your own config file, the data "
        f"paths (counts, samples and the optional annotation) come from it alone; the "
        f"example's are not used. Add, for example:\n{example}"
    )
