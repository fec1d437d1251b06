"""The config as the workflow reads it: the schema check with messages a user can act
on, and the layering of the user's config over the example's defaults. Nothing here
depends on Snakemake; workflow/rules/common.smk calls it when the workflow is parsed."""

from __future__ import annotations

import copy

from msc_response.common.errors import InputError, did_you_mean

#: The data paths: a user's own config names them all, or the example's are used.
DATA_KEYS = ("counts", "samples", "annotation", "count_files", "quantifications")
#: The keys that say where the counts come from; a config sets exactly one.
COUNT_SOURCES = ("counts", "count_files", "quantifications")
#: The config keys the checked input depends on (rule check_inputs' params, so that
#: changing one reruns it). Not the contrasts: they are checked against the sheet
#: when the workflow is parsed, and adding one must not redo the inputs.
INPUT_KEYS = (
    "counts", "samples", "design", "annotation", "categorical_variables",
    "extra_count_columns", "round_counts", "count_files", "quantifications", "single_cell",
)


def input_settings(config: dict) -> dict:
    return {key: config[key] for key in INPUT_KEYS if key in config}


def canonical(value):
    """`value` with every mapping's keys sorted (recursively): what a rule's params
    hold, so that reordering keys in a YAML file does not rerun jobs."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


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
    sources = [key for key in COUNT_SOURCES if config.get(key)]
    if len(sources) > 1:
        return (
            f"config: {' and '.join(repr(k) for k in sources)} are set together; the counts come "
            f"from one of them. Set the others to null (or remove them)."
        )
    if config.get("single_cell") and not config.get("counts"):
        return (
            "config: 'single_cell' describes the cells file named by 'counts', but 'counts' "
            "is not set. Set 'counts' to the cells' .h5ad file."
        )
    missing = [key for key in ("counts", "samples") if not config.get(key)]
    if sources:
        missing = [key for key in missing if key != "counts"]
    if not missing:
        return None
    files = ", ".join(f"'{f}'" for f in configfiles) or "your --config settings"
    keys = " and ".join(f"'{key}'" for key in missing)
    example = "\n".join(f"  {key}: path/to/your/{key}.tsv" for key in missing)
    return (
        f"config: {keys} missing from {files}. With your own config file, the data "
        f"paths (counts, samples and the optional annotation) come from it alone; the "
        f"example's are not used. Add, for example:\n{example}"
        + ("\n(or one count file per sample with 'count_files', or transcript "
           "quantifications with 'quantifications'; see config/README.md)"
           if "counts" in missing else "")
    )


def check_config(config: dict, schema: dict) -> None:
    """Check the merged config against the JSON schema, reporting every problem on a
    line of its own (unknown keys with the closest known key), without the schema
    dump Snakemake's `validate` prints."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    problems = []
    for error in errors:
        problems += _describe_config_error(error)
    if problems:
        raise InputError(
            "the config has " + ("a problem" if len(problems) == 1 else f"{len(problems)} problems")
            + " (keys and allowed values: config/README.md):\n  - " + "\n  - ".join(problems)
        )


def _describe_config_error(error) -> list[str]:
    where = ".".join(str(p) for p in error.absolute_path)
    key = f"'{where}'" if where else "the top level"
    schema = error.schema
    if error.validator == "additionalProperties" and schema.get("additionalProperties") is False:
        known = list(schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in known]
        return [
            f"unknown key '{(where + '.') if where else ''}{k}'{did_you_mean(k, known)}; "
            f"known keys{' of ' + key if where else ''}: {', '.join(known)}"
            for k in unknown
        ]
    if error.validator == "required":
        return [f"{key}: {error.message}"]
    if error.validator == "type" and isinstance(error.instance, bool):
        word = "yes/true/on" if error.instance else "no/false/off"
        return [
            f"{key}: YAML reads an unquoted {word} as {error.instance}. If you mean the "
            f"text, quote it: \"{'yes' if error.instance else 'no'}\""
        ]
    if error.validator == "enum":
        return [
            f"{key}: {error.instance!r} is not allowed; choose one of "
            f"{', '.join(repr(v) for v in error.validator_value)}"
            f"{did_you_mean(error.instance, error.validator_value)}"
        ]
    if error.validator == "pattern" and where == "design":
        return [f"'design': '{error.instance}' is not a formula; write it like '~ source + response'"]
    if "propertyNames" in error.schema_path:
        return [
            f"{key}: the name {error.instance!r} may use only letters, digits, '_', '.' "
            f"and '-' (it is used in file names)"
        ]
    return [f"{key}: {error.message}"]
