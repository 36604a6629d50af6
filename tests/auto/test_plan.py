"""The plan: which group to impose, and what each candidate gets."""

from __future__ import annotations

import pytest

from softeq.auto import (
    GroupChoice,
    could_be_exact,
    disagreements,
    groups_to_impose,
    imposed_group,
    imposed_validation,
    make_plan,
    render_plan,
)

GROUPS = ["O3", "O2x", "O2y", "O2z"]


def entry(name, verdict, b, low, high):
    return {"name": name, "verdict": verdict, "breaking": b, "breaking_low": low,
            "breaking_high": high}  # fmt: skip


def report(*entries):
    return {"groups": list(entries)}


O2Z_EXACT = report(
    entry("O3", "broken", 0.9, 0.7, 1.1), entry("O2x", "broken", 0.8, 0.6, 1.0),
    entry("O2y", "broken", 0.8, 0.6, 1.0), entry("O2z", "exact", 0.0, -0.005, 0.006),
)  # fmt: skip
ALL_EXACT = report(*(entry(g, "exact", 0.0, -0.004, 0.004) for g in GROUPS))


def test_the_largest_exact_group_is_imposed():
    assert groups_to_impose(O2Z_EXACT, GROUPS) == ["O2z"]
    # O3 contains every O(2): imposing it imposes them all
    assert groups_to_impose(ALL_EXACT, GROUPS) == ["O3"]


def test_without_an_exact_group_the_least_broken_unbroken_one_is_tried():
    mixed = report(
        entry("O3", "approximate", 0.15, 0.12, 0.18),
        entry("O2x", "approximate", 0.05, 0.03, 0.07),
        entry("O2y", "undetermined", 0.03, 0.005, 0.26),  # could be broken
        entry("O2z", "approximate", 0.04, 0.02, 0.06),
    )  # fmt: skip
    assert groups_to_impose(mixed, GROUPS) == ["O2z"]
    plan = make_plan(mixed, GROUPS, "impose", imposed="O2z", via="augmentation by O2z")
    assert "only approximately" in plan[3].reason


def test_when_every_group_reads_broken_the_least_broken_and_the_largest_are_tried():
    """An evidence model that extrapolates badly to transformed inputs reads
    exact symmetries as broken (an MLP on the planets), the more so the further
    a group moves the inputs; validation decides whether imposing the least
    broken one or the largest helps, and the plan says so."""
    broken = report(
        entry("O3", "broken", 128.0, 87.0, 168.0),
        entry("O2x", "broken", 77.0, 51.0, 102.0),
        entry("O2y", "broken", 109.0, 54.0, 163.0),
        entry("O2z", "broken", 16.0, 7.2, 25.0),
    )  # fmt: skip
    assert groups_to_impose(broken, GROUPS) == ["O2z", "O3"]
    # the largest candidate least broken: one group to try
    largest_least = report(
        entry("O3", "broken", 1.0, 0.8, 1.2), entry("O2x", "broken", 2.0, 1.8, 2.2),
        entry("O2y", "broken", 2.0, 1.8, 2.2), entry("O2z", "broken", 1.5, 1.3, 1.7),
    )  # fmt: skip
    assert groups_to_impose(largest_least, GROUPS) == ["O3"]
    # without O3 the three O(2)'s are unrelated: the largest is the least broken
    assert groups_to_impose(broken, GROUPS[1:]) == ["O2z"]
    plan = make_plan(broken, GROUPS, "impose", imposed="O2z", via="augmentation by O2z")
    assert plan[3].action == "impose" and "reads O2z as broken" in plan[3].reason
    unmeasured = report(*(entry(g, "broken", None, None, None) for g in GROUPS))
    assert groups_to_impose(unmeasured, GROUPS) == []


def test_groups_read_outside_the_data_are_tried_as_broken_ones_and_say_why():
    """The report calls no asymmetry where a group moves the inputs outside the
    data (undetermined, `outside_data` above the threshold); the plan reads the
    breaking's interval, so it tries the same groups as for the broken readings
    above, and its reasons say why the evidence could not read them."""
    readings = [("O3", 128.0, 87.0, 168.0), ("O2x", 77.0, 51.0, 102.0),
                ("O2y", 109.0, 54.0, 163.0), ("O2z", 16.0, 7.2, 25.0)]  # fmt: skip
    outside = report(
        *({**entry(g, "undetermined", *b), "outside_data": 1.0} for g, *b in readings)
    )
    broken = report(*(entry(g, "broken", *b) for g, *b in readings))
    assert groups_to_impose(outside, GROUPS) == groups_to_impose(broken, GROUPS)
    plan = make_plan(outside, GROUPS, "impose", imposed="O3", via="augmentation by O3")
    assert all(c.outside_data == 1.0 for c in plan)
    assert "100% of the inputs it moves outside the data" in plan[0].reason
    assert "the evidence cannot read O3" in plan[0].reason
    assert "cannot read O3" in plan[3].reason  # a subgroup of the imposed O3
    assert GroupChoice(**plan[0].to_dict()) == plan[0]
    # an undetermined reading inside the data keeps the older reason
    near = report(*(entry(g, "undetermined", 0.2, 0.005, 0.3) for g in GROUPS))
    plan = make_plan(near, GROUPS, "impose", imposed="O3", via="augmentation by O3")
    assert "only approximately" in plan[0].reason and plan[0].outside_data is None


def test_an_undetermined_group_that_could_be_exact_is_tried():
    maybe = report(
        entry("O3", "broken", 0.9, 0.7, 1.1), entry("O2x", "broken", 0.8, 0.6, 1.0),
        entry("O2y", "undetermined", 0.2, 0.1, 0.3),
        entry("O2z", "undetermined", 0.008, 0.003, 0.013),
    )  # fmt: skip
    assert could_be_exact(maybe["groups"][3])
    assert not could_be_exact(maybe["groups"][2])  # cannot be below 0.01
    assert groups_to_impose(maybe, GROUPS) == ["O2z"]


def test_among_unrelated_exact_groups_the_best_supported_is_imposed():
    two = report(
        entry("O3", "broken", 0.9, 0.7, 1.1), entry("O2x", "exact", 0.0, -0.002, 0.002),
        entry("O2y", "broken", 0.8, 0.6, 1.0),
        entry("O2z", "exact", 0.0, -0.006, 0.008),
    )  # fmt: skip
    assert groups_to_impose(two, GROUPS) == ["O2x"]


def test_imposing_o3_imposes_its_subgroups():
    plan = make_plan(
        ALL_EXACT, GROUPS, "impose", imposed="O3", via="augmentation by O3"
    )
    assert [c.action for c in plan] == ["impose"] * 4
    assert "subgroup of the imposed O3" in plan[3].reason
    assert plan[0].via == "augmentation by O3"


def test_imposing_o2z_ignores_the_others():
    plan = make_plan(
        O2Z_EXACT, GROUPS, "impose", imposed="O2z", via="augmentation by O2z"
    )
    assert {c.name: c.action for c in plan} == {
        "O3": "ignore",
        "O2x": "ignore",
        "O2y": "ignore",
        "O2z": "impose",
    }
    assert plan[0].verdict == "broken" and plan[0].breaking == 0.9


def test_soft_plan_lists_strengths_and_drops_zero_ones():
    strengths = {"O3": 0.0, "O2x": 0.0, "O2y": 0.0, "O2z": 9.5}
    plan = make_plan(O2Z_EXACT, GROUPS, "soft", strengths=strengths)
    assert [(c.action, c.strength) for c in plan] == [
        ("ignore", None),
        ("ignore", None),
        ("ignore", None),
        ("soft", 9.5),
    ]
    assert "dropped" in plan[0].reason


def test_a_soft_plan_with_pers_tuner_says_so_and_leaves_the_largest_free():
    """PER's tuner penalises every candidate but the largest, broken or not."""
    strengths = {"O3": 0.0, "O2x": 40.0, "O2y": 62.0, "O2z": 100.0}
    plan = make_plan(O2Z_EXACT, GROUPS, "soft-per", strengths=strengths)
    assert [(c.action, c.strength) for c in plan] == [
        ("ignore", None),
        ("soft", 40.0),
        ("soft", 62.0),
        ("soft", 100.0),
    ]
    assert "PER's tuner leaves the largest" in plan[0].reason
    assert all("(PER's tuner)" in c.reason for c in plan[1:])
    assert "dropped" not in plan[0].reason
    # how PER's tuner started (`fit`'s per_strengths) goes with every soft group
    via = "PER's tuner from strength 100"
    started = make_plan(O2Z_EXACT, GROUPS, "soft-per", strengths=strengths, via=via)
    assert [c.via for c in started] == [None, via, via, via]


def test_the_unpenalised_model_ignores_every_group():
    plan = make_plan(O2Z_EXACT, GROUPS, "none")
    assert all(c.action == "ignore" for c in plan)
    assert plan[0].to_dict()["name"] == "O3"


def test_a_larger_group_that_could_be_exact_is_tried_beside_the_exact_one():
    """cossim:so3-scale as an MLP's evidence reads it: Scale3 exact, SO3xScale3
    (which contains it) and SO3 undetermined but possibly exact. Both the
    largest possible and the largest certain group are tried."""
    cossim = ["SO3xScale3", "SO3", "Scale3"]
    evidence = report(
        entry("SO3xScale3", "undetermined", 0.0072, 0.0002, 0.0142),
        entry("SO3", "undetermined", 0.005, -0.0016, 0.0116),
        entry("Scale3", "exact", 0.0032, -0.0009, 0.0074),
    )  # fmt: skip
    assert groups_to_impose(evidence, cossim) == ["SO3xScale3", "Scale3"]


def test_the_plan_gives_each_tried_group_the_held_out_datas_own_reading():
    """`GroupChoice.validation`: the best imposed model's validation MSE over the
    unpenalised model's, whatever the evidence reads (the planets: every group
    reads broken, and imposing O3 cuts the validation MSE 1 000-fold)."""
    broken = report(
        entry("O3", "broken", 2.4, 2.0, 2.8), entry("O2x", "broken", 2.0, 1.8, 2.2),
        entry("O2y", "broken", 2.0, 1.8, 2.2), entry("O2z", "broken", 1.2, 1.0, 1.4),
    )  # fmt: skip
    val = {"none": 0.03, "impose O2z": 3.2e-5, "impose+average O2z": 4.1e-5,
           "impose O3": 1.7e-5, "impose+average O3 (hidden)": 1.5e-5,
           "soft": 0.5}  # fmt: skip
    assert imposed_group("impose+average O3 (hidden)") == "O3"
    assert imposed_group("impose O2z") == "O2z"
    assert imposed_group("soft") is None and imposed_group("none") is None
    ratios = imposed_validation(val)
    assert set(ratios) == {"O2z", "O3"}
    assert ratios["O3"] == pytest.approx(1.5e-5 / 0.03)  # the best of its four
    assert ratios["O2z"] == pytest.approx(3.2e-5 / 0.03)
    assert imposed_validation({"impose O3": 1.0}) == {}  # nothing to compare with
    plan = make_plan(broken, GROUPS, "impose", imposed="O3", via="augmentation by O3",
                     val_mse=val)  # fmt: skip
    by_name = {c.name: c for c in plan}
    assert by_name["O3"].validation == pytest.approx(5e-4)
    assert "validation: imposing it scores 0.0005x" in by_name["O3"].reason
    assert by_name["O2x"].validation is None  # not tried (a subgroup of O3)
    costly = make_plan(broken, GROUPS, "none", val_mse={"none": 1.0, "impose O2z": 1.3})
    assert costly[3].validation == pytest.approx(1.3) and costly[3].action == "ignore"
    # a record made before the field: the field reads None
    old = {k: v for k, v in by_name["O3"].to_dict().items() if k != "validation"}
    assert GroupChoice(**old).validation is None


#: The planets' fit: every group read broken, imposing O3 (and O2z) welcomed.
PLANETS = report(
    entry("O3", "broken", 2.4, 2.0, 2.8), entry("O2x", "broken", 2.0, 1.8, 2.2),
    entry("O2y", "broken", 2.0, 1.8, 2.2), entry("O2z", "broken", 1.2, 1.0, 1.4),
)  # fmt: skip
PLANETS_VAL = {"none": 0.03, "impose O2z": 3e-5, "impose O3": 1.5e-5}


def planets_plan():
    return make_plan(PLANETS, GROUPS, "impose", imposed="O3",
                     via="augmentation by O3", val_mse=PLANETS_VAL)  # fmt: skip


def test_the_plan_renders_as_a_table_with_each_readings():
    plan, val = planets_plan(), PLANETS_VAL
    lines = render_plan(plan, val).splitlines()
    assert lines[2] == (
        "| O3 | impose | augmentation by O3 | broken | 2.4 [2, 2.8] | 0.0005 |"
    )
    assert lines[5] == (
        "| O2z | impose | augmentation by O3 | broken | 1.2 [1, 1.4] | 0.001 |"
    )
    assert lines[-1] == (
        "Validation MSE of each candidate model, best first: impose O3 1.5e-05, "
        "impose O2z 3e-05, none 0.03."
    )


def test_the_plan_notes_where_evidence_and_validation_disagree():
    plan, val, broken = planets_plan(), PLANETS_VAL, PLANETS
    notes = disagreements(plan)
    # read broken, welcomed on validation: O3 and O2z (the two tried); not O2x, O2y
    assert [n.split(":")[0] for n in notes] == ["O3", "O2z"]
    assert notes[0].startswith(
        "O3: the evidence reads it broken (2.4), yet imposing it scores 0.0005x"
    )
    text = render_plan(plan, val)
    assert "Where the two readings disagree:" in text and f"- {notes[1]}" in text
    # readings that agree give no note: broken and costly, exact and welcomed
    costly = make_plan(broken, GROUPS, "none", val_mse={"none": 1.0, "impose O2z": 1.3})
    assert disagreements(costly) == []
    assert "disagree" not in render_plan(costly, {"none": 1.0, "impose O2z": 1.3})
    exact = report(
        entry("O3", "broken", 0.9, 0.8, 1.0), entry("O2x", "broken", 0.9, 0.8, 1.0),
        entry("O2y", "broken", 0.9, 0.8, 1.0), entry("O2z", "exact", 0.0, -0.01, 0.005),
    )  # fmt: skip
    welcomed = make_plan(exact, GROUPS, "impose", imposed="O2z",
                         via="augmentation by O2z",
                         val_mse={"none": 1.0, "impose O2z": 0.5})  # fmt: skip
    assert disagreements(welcomed) == []
    hurt = make_plan(exact, GROUPS, "none", val_mse={"none": 1.0, "impose O2z": 2.0})
    (note,) = disagreements(hurt)
    assert note.startswith("O2z: the evidence reads it exact (0), yet imposing it "
                           "scores 2x")  # fmt: skip
    assert note.endswith("costs this model although the evidence finds no breaking.")
