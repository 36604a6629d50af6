from __future__ import annotations

import tomllib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from softeq.train import TrainConfig, _toml, config_from_dict, load_config

#: Reproducible runs: the same examples on every machine, no example database.
_SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

#: Every character TOML makes special in a basic string, plus plain ones to mix.
_SPECIAL = [chr(c) for c in range(0x20)] + ["\x7f", '"', "\\", "'", "a", "é", "🙂"]

#: Arbitrary text (any Unicode scalar value) and text dense in special characters.
TEXT = st.one_of(st.text(), st.text(alphabet=st.sampled_from(_SPECIAL)))


@_SETTINGS
@given(s=TEXT)
@example(s='line one\nline "two"\r\n\ttab\\ \x00\x1f\x7f')
def test_any_string_value_round_trips(s):
    assert tomllib.loads(_toml.dumps({"k": s}))["k"] == s


@_SETTINGS
@given(key=TEXT, value=st.lists(TEXT, max_size=3))
def test_any_key_and_list_of_strings_round_trip(key, value):
    assert tomllib.loads(_toml.dumps({key: value})) == {key: value}


@pytest.mark.parametrize(
    "s, written",
    [
        ("\b\t\n\f\r", '"\\b\\t\\n\\f\\r"'),
        ('"\\', '"\\"\\\\"'),
        ("\x00\x01\x1b\x1f\x7f", '"\\u0000\\u0001\\u001B\\u001F\\u007F"'),
        ("é🙂\x80", '"é🙂\x80"'),  # only controls U+0000-U+001F and U+007F escaped
    ],
    ids=["short-escapes", "quote-backslash", "u-escapes", "non-ascii-verbatim"],
)
def test_escapes_follow_the_toml_spec(s, written):
    assert _toml.dumps({"k": s}) == f"k = {written}\n"


def test_keys_are_bare_when_allowed_else_quoted():
    assert _toml.dumps({"lr_drops": 1, "a-b": 2}) == "lr_drops = 1\na-b = 2\n"
    assert _toml.dumps({"a.b": 1, "": 2}) == '"a.b" = 1\n"" = 2\n'


def test_a_lone_surrogate_is_a_clear_error():
    with pytest.raises(ValueError, match="lone surrogate U\\+D800"):
        _toml.dumps({"task": "x\ud800"})


@_SETTINGS
@given(task=TEXT, group=TEXT)
@example(task="inertia:o2z\nepochs = 3", group='O3"\n[train]')
def test_train_config_strings_survive_the_config_file(tmp_path, task, group):
    # Validation (`resolve_config`) may reject such names later; the file must
    # still read back to the very config that was written, so runs can resume.
    cfg = TrainConfig(task=task, group=group)
    path = tmp_path / "config.toml"
    path.write_bytes(cfg.to_toml().encode())
    assert config_from_dict(_toml.load(path)) == cfg
    assert load_config(path) == cfg
