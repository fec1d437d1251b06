from msc_response.common.config import missing_data_paths, replace_merged_keys, take_data_paths


def test_user_contrasts_replace_the_defaults_whole():
    merged = {
        "contrasts": {"default_one": {"variable": "response"}, "mine": {"variable": "source"}},
        "threads": 4,
    }
    user = {"contrasts": {"mine": {"variable": "source"}}, "threads": 4}
    replace_merged_keys(merged, user, ["contrasts"])
    assert merged["contrasts"] == {"mine": {"variable": "source"}}


def test_defaults_kept_when_user_sets_no_contrasts():
    merged = {"contrasts": {"default_one": {}}}
    replace_merged_keys(merged, {"threads": 1}, ["contrasts"])
    assert merged["contrasts"] == {"default_one": {}}
    replace_merged_keys(merged, None, ["contrasts"])
    assert merged["contrasts"] == {"default_one": {}}


EXAMPLE = {
    "counts": "resources/example/counts.tsv.gz",
    "samples": "config/samples.tsv",
    "annotation": "resources/example/annotation.tsv",
    "threads": 2,
}


def merged_with(user: dict) -> dict:
    """config/config.yaml's data paths merged with a user's config, as Snakemake does."""
    return {**EXAMPLE, **user}


def test_a_user_config_without_annotation_gets_none_not_the_examples():
    user = {"counts": "mine/counts.tsv", "samples": "mine/samples.tsv"}
    config = merged_with(user)
    take_data_paths(config, user, ["my.yaml"])
    assert config["annotation"] is None
    assert (config["counts"], config["samples"]) == ("mine/counts.tsv", "mine/samples.tsv")
    assert missing_data_paths(config, ["my.yaml"]) is None


def test_a_user_config_without_counts_is_a_clear_error():
    user = {"samples": "mine/samples.tsv", "threads": 4}
    config = merged_with(user)
    take_data_paths(config, user, ["my.yaml"])
    assert "counts" not in config
    message = missing_data_paths(config, ["my.yaml"])
    assert "'counts' missing from 'my.yaml'" in message
    assert "example's are not used" in message and "counts: path/to/your/counts.tsv" in message
    config = merged_with({})
    take_data_paths(config, {}, ["empty.yaml"])
    assert "'counts' and 'samples' missing" in missing_data_paths(config, ["empty.yaml"])


def test_the_example_runs_without_a_user_config():
    for user in ({}, {"threads": 1}, None):
        config = merged_with(user or {})
        take_data_paths(config, user, [])
        assert config == merged_with(user or {})
        assert missing_data_paths(config, []) is None


def test_naming_a_data_path_with_config_means_own_data():
    user = {"counts": "mine/counts.tsv"}
    config = merged_with(user)
    take_data_paths(config, user, [])  # --config counts=... without a --configfile
    assert config["annotation"] is None and "samples" not in config
    assert "your --config settings" in missing_data_paths(config, [])


def test_rule_params_ignore_key_order_and_the_contrasts():
    """Reordering a contrast's keys in YAML, or adding a contrast, is not a change of
    rule check_inputs' or a contrast job's params (so nothing reruns for it)."""
    from msc_response.common.config import canonical, input_settings

    one = {"variable": "response", "test": "r", "within": {"b": 1, "a": 2}, "reference": "n"}
    other = {"within": {"a": 2, "b": 1}, "reference": "n", "variable": "response", "test": "r"}
    assert repr(canonical(one)) == repr(canonical(other))
    assert list(canonical(one)) == ["reference", "test", "variable", "within"]
    config = {"counts": "c.tsv", "samples": "s.tsv", "design": "~ x", "contrasts": {"a": one},
              "quantifications": None, "markers": {}}
    assert input_settings(config) == {"counts": "c.tsv", "samples": "s.tsv", "design": "~ x",
                                      "quantifications": None}
