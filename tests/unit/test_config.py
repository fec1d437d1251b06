from msc_response.config import replace_merged_keys


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
