"""Bad input to the public API ends in one clear error: rep strings, group names,
mismatched dimensions, configs (`softeq.reps.parse`, `softeq.groups.get`, layers and
models, `softeq.train.load_config`, `config_from_dict`, `resolve_config`)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from softeq.groups import Group, get
from softeq.nn import EquivariantLinear, SoftLinear
from softeq.nn.models import MLP, SoftEMLP
from softeq.reps import Rep, parse
from softeq.train import TrainConfig, config_from_dict, load_config, resolve_config
from tests.reliability._helpers import count, hypothesis_settings

O3 = get("O3")

# -- representation strings ------------------------------------------------------------

_REP_TOKENS = ["V0", "V", "V*", "V2", "V3", "T(1,1)", "T(2,0)", "T(", ")", "*", "+",
               ",", "3", "0", "12", "-1", "x", "W", "V4", " ", "\n", "é", "٣", "9" * 12,
               "T(9,0)", "T(4,5)", "2000000*"]  # fmt: skip
rep_texts = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(_REP_TOKENS), max_size=12).map("".join),
)


@hypothesis_settings(max_examples=400)
@given(text=rep_texts)
def test_parse_gives_a_rep_or_one_clear_error(text):
    count("inputs")
    try:
        rep = parse(text, O3)
    except ValueError as err:
        message = str(err)
        assert "\n" not in message and len(message) < 400
        assert "expected" in message or "must be" in message, message
    else:
        assert isinstance(rep, Rep) and rep.dim >= 1


_TYPES = {"V0": 0, "V": 1, "V*": 1, "V2": 2, "V3": 3, "T(1,1)": 2, "T(0,2)": 2}


@hypothesis_settings(max_examples=100)
@given(
    terms=st.lists(
        st.tuples(st.integers(1, 40), st.sampled_from(sorted(_TYPES))),
        min_size=1,
        max_size=5,
    )  # fmt: skip
)
def test_parse_accepts_every_well_formed_string(terms):
    """Positive control: the error path is not taken for valid strings."""
    count("inputs")
    text = " + ".join(f"{k}*{t}" for k, t in terms)
    assert parse(text, O3).dim == sum(k * 3 ** _TYPES[t] for k, t in terms)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "non-empty"),
        (None, "non-empty"),
        ("5*V0+", "cannot parse term ''"),
        ("0*V", "multiplicity must be >= 1"),
        ("2000000*V", "multiplicity must be <= 1000000"),
        ("9" * 5000 + "*V", "multiplicity must be <= 1000000"),
        ("T(30,0)", "p must be <= 8"),
        ("T(5,5)", "rank p+q must be <= 8"),
        ("٣*V", "cannot parse term"),  # non-ASCII digits are not numbers here
    ],
)
def test_parse_explicit_cases(text, message):
    count("inputs")
    with pytest.raises(ValueError) as e:
        parse(text, O3)
    assert message in str(e.value) and len(str(e.value)) < 400


# -- group names -----------------------------------------------------------------------

_FAMILIES = ["O", "SO", "SL", "GL", "S", "C", "D", "Scale", "Trivial", "Lorentz", "O2",
             "SO2", "SO3xScale", "", "o", "X"]  # fmt: skip
_SUFFIXES = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(
        ["65", "99999", "1" + "0" * 30, "x", "y", "z", "3xScale4", "٣", ""]
    ),
)
group_names = st.one_of(
    st.text(max_size=15),
    st.lists(
        st.builds(str.__add__, st.sampled_from(_FAMILIES), _SUFFIXES),
        min_size=1,
        max_size=4,
    ).map("+".join),  # fmt: skip
)


@hypothesis_settings(max_examples=400)
@given(name=group_names)
def test_get_gives_a_group_or_one_clear_error(name):
    count("inputs")
    try:
        group = get(name)
    except ValueError as err:
        message = str(err)
        assert "\n" not in message and len(message) < 400
        assert "expected one of" in message or "softeq supports" in message, message
    else:
        assert isinstance(group, Group) and 1 <= group.d <= 64  # MAX_DIM
        assert group.name.isascii()


@pytest.mark.parametrize(
    "name, message",
    [
        ("O99999", "n <= 64"),  # was an allocation of 80 GB deep inside torch
        ("S100000", "n <= 64"),
        ("C" + "9" * 5000, "order <= 1000000"),  # was int()'s digit limit
        ("+".join(["GL64"] * 64), "would act on R^128"),
        ("O٣", "expected one of"),
        (3, "must be a string"),
        ("SO3xScale4", "expected one of"),
    ],
)
def test_get_explicit_cases(name, message):
    count("inputs")
    with pytest.raises(ValueError) as e:
        get(name)
    assert message in str(e.value) and "\n" not in str(e.value)


# -- mismatched dimensions -------------------------------------------------------------


@pytest.mark.parametrize(
    "names", [("O3", "SO4"), ("O3", "S4"), ("O2z", "C4"), ("Lorentz", "O3")]
)
@pytest.mark.parametrize("layer", ["SoftLinear", "SoftEMLP"])
def test_candidate_groups_on_different_spaces_are_refused(names, layer):
    count("inputs")
    groups = [get(n) for n in names]
    rep = parse("V", groups[0])
    with pytest.raises(ValueError, match="R\\^") as e:
        if layer == "SoftLinear":
            SoftLinear(rep, rep, groups)
        else:
            SoftEMLP(rep, rep, groups, ch=16, num_layers=1)
    assert f"R^{groups[1].d}" in str(e.value) or f"R^{groups[0].d}" in str(e.value)


@pytest.fixture(scope="module")
def modules():
    gen = torch.Generator().manual_seed(0)
    G, Gz = get("O3"), get("O2z")
    rep_in, rep_out = parse("2*V0+V", G), parse("V+V0", G)
    return {
        "SoftLinear": SoftLinear(rep_in, rep_out, [G, Gz], generator=gen),
        "EquivariantLinear": EquivariantLinear(rep_in, rep_out, generator=gen),
        "SoftEMLP": SoftEMLP(
            rep_in, rep_out, [G, Gz], ch=16, num_layers=1, generator=gen
        ),  # fmt: skip
        "MLP": MLP(rep_in, rep_out, ch=16, num_layers=1, generator=gen),
    }


@hypothesis_settings(max_examples=200)
@given(
    name=st.sampled_from(["SoftLinear", "EquivariantLinear", "SoftEMLP", "MLP"]),
    lead=st.lists(st.integers(0, 4), max_size=2),
    features=st.integers(0, 12).filter(lambda k: k != 5),
)
def test_wrong_feature_size_names_the_expected_size(modules, name, lead, features):
    count("inputs")
    x = torch.zeros(*lead, features)
    with pytest.raises(ValueError) as e:
        modules[name](x)
    assert f"expects last dim 5 (2V0+V), got input of shape {tuple(x.shape)}" in str(
        e.value
    )


# -- configs ---------------------------------------------------------------------------

_FIELDS = list(TrainConfig.__dataclass_fields__)
# `resolve_config` computes with `task` and `epochs` before it validates: the
# public-API property draws them with the right type (`epochs` may still come from
# `_BAD`); wrong types there are `test_resolve_config_rejects_wrong_types...`.
_RANDOM_FIELDS = [f for f in _FIELDS if f not in ("task", "epochs")]
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, -1.5, 2.5]),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e400]),
    st.sampled_from(["", "per", "fast", "cpu", "cuda", "tpu", "inertia:o2z", "O3"]),
)  # fmt: skip
# One entry that `validate`/`resolve_config` must refuse; merged last.
_BAD = st.sampled_from([
    ("epochs", 0), ("epochs", -1), ("epochs", 2.5), ("epochs", True),
    ("lr", 0), ("lr", -1e-3), ("lr", math.nan), ("lr", math.inf), ("lr", "fast"),
    ("batch_size", 0), ("ch", -4), ("seed", -1), ("strength", -2.0),
    ("weight_decay", math.nan), ("preset", "slow"), ("model", "resnet"),
    ("device", "tpu"), ("tuner", "adam"), ("allocation", "random"),
    ("gate", "relu"), ("patience", 1.5), ("fast_dev_run", 1),
    ("checkpoint_every", -1), ("adjust_power", math.inf),
])  # fmt: skip


@hypothesis_settings(max_examples=300)
@given(
    data=st.dictionaries(st.sampled_from(_RANDOM_FIELDS), _VALUES, max_size=6),
    bad=_BAD,
)
def test_out_of_range_config_values_are_named(data, bad):
    count("inputs")
    data = {**data, bad[0]: bad[1]}
    with pytest.raises(ValueError) as e:
        resolve_config(config_from_dict(data))
    message = str(e.value)
    assert any(name in message for name in _FIELDS), message
    assert "must be" in message or "got" in message


@pytest.mark.parametrize(
    "data", [{"epochs": "ten"}, {"epochs": math.inf}, {"task": 3}, {"epochs": [1]}]
)
def test_resolve_config_rejects_wrong_types_before_computing(data):
    count("inputs")
    with pytest.raises(ValueError, match="must be"):
        resolve_config(config_from_dict(data))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"epochz": 3}, "unknown config keys ['epochz']"),
        ({1: 2}, "unknown config keys"),
    ],
)
def test_unknown_config_keys_are_named(data, message):
    count("inputs")
    with pytest.raises(ValueError) as e:
        config_from_dict(data)
    assert message in str(e.value)


@hypothesis_settings(max_examples=300)
@given(text=st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=60),
    st.lists(st.sampled_from(["epochs", "=", "[", "]", '"', "'", "\n", "lr", "3",
                              "[train]", "nan", "inf", "-", "{", "}", ".", "x"]),
             max_size=12).map(" ".join),
))  # fmt: skip
def test_malformed_toml_is_one_clear_error(tmp_path, text):
    count("inputs")
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ValueError as err:
        assert str(path) in str(err)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe\x00", "expected UTF-8"),
        (b"epochs = = 3\n", "not valid TOML"),
        (b"[[train]]\nepochs = 3\n", "unknown config keys"),
        (None, "is a folder"),
    ],
)
def test_unreadable_config_files(tmp_path, content, message):
    count("inputs")
    path = tmp_path / "config.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        load_config(path)
    assert message in str(e.value) and str(path) in str(e.value)
