"""Configuration helpers that do not depend on Snakemake."""

from __future__ import annotations

import copy


def replace_merged_keys(config: dict, user_config: dict, keys: list[str]) -> None:
    """Undo Snakemake's key-by-key merge for `keys`: where the user's own config (from
    --configfile/--config) sets one of them, its value replaces the default whole."""
    for key in keys:
        if key in (user_config or {}):
            config[key] = copy.deepcopy(user_config[key])
