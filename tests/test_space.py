from __future__ import annotations

import math

import optuna.distributions as od
import pytest

from filterfit.errors import ParamError
from filterfit.space import Param, Space, as_space, parse_param

# --- the --param grammar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("radius=0:100", Param("radius", 0.0, 100.0)),
        ("radius = -2.5 : 1e2", Param("radius", -2.5, 100.0)),
        ("radius=0:100:int", Param("radius", 0.0, 100.0, kind="int")),
        ("sigma=0.1:50:log", Param("sigma", 0.1, 50.0, log=True)),
        ("x=0:1:step=0.25", Param("x", 0.0, 1.0, step=0.25)),
        ("q=1:9:step=2", Param("q", 1.0, 9.0, kind="int", step=2.0)),  # integer grid: prints 3, not 3.0
        ("n=1:100:int:log", Param("n", 1.0, 100.0, kind="int", log=True)),
        ("n=1:100:log:int", Param("n", 1.0, 100.0, kind="int", log=True)),
        ("q=1:9:int:step=2", Param("q", 1.0, 9.0, kind="int", step=2.0)),
        ("q=1:9:step=2:int", Param("q", 1.0, 9.0, kind="int", step=2.0)),
        ("mode=a,b,c", Param("mode", kind="choice", choices=("a", "b", "c"))),
        ("mode= a , b ", Param("mode", kind="choice", choices=("a", "b"))),
        ("k=3,5,7", Param("k", kind="choice", choices=(3, 5, 7))),
        ("g=0.5,1,fast", Param("g", kind="choice", choices=(0.5, 1, "fast"))),
    ],
)
def test_parse_param(text, expected):
    assert parse_param(text) == expected


def test_choice_values_keep_their_types():
    assert [type(v) for v in parse_param("g=0.5,1,fast").choices] == [float, int, str]


@pytest.mark.parametrize(
    "text, message",
    [
        ("radius", r"--param must look like name=LOW:HIGH\[:int\|:log\|:step=S\] or name=a,b,c, but got 'radius'"),
        ("=0:1", r"--param must look like .* but got '=0:1'"),
        ("radius=", r"--param must look like .* but got 'radius='"),
        ("radius=  ", r"--param must look like"),
        ("radius=5", r"--param radius: expected LOW:HIGH or a list a,b,c, but got '5' \(a single value is a constant"),
        ("radius=a:1", r"--param radius: LOW must be a number, but got 'a'"),
        ("radius=0:", r"--param radius: HIGH must be a number, but got ''"),
        ("radius=0:inf", r"--param radius: HIGH must be finite, but got 'inf'"),
        ("radius=nan:1", r"--param radius: LOW must be finite, but got 'nan'"),
        ("radius=0:1:cubic", r"--param radius: unknown modifier 'cubic'; valid ones are int, log, step=S"),
        ("radius=0:1:", r"unknown modifier ''"),
        ("radius=0:1:step=", r"--param radius: step must be a number, but got ''"),
        ("radius=0:1:step=x", r"--param radius: step must be a number, but got 'x'"),
        ("radius=2:1", r"parameter radius: `low <= high` must hold, but got \(low=2.0, high=1.0\)"),
        ("sigma=0:1:log", r"parameter sigma: a log scale needs `low > 0`, but got low=0.0"),
        ("sigma=-1:1:log", r"a log scale needs `low > 0`, but got low=-1.0"),
        ("x=0:1:step=0", r"parameter x: `step > 0` must hold, but got step=0.0"),
        ("x=0:1:step=-0.5", r"`step > 0` must hold, but got step=-0.5"),
        ("x=0.1:1:log:step=0.1", r"parameter x: log and step cannot be combined \(optuna forbids it\)"),
        ("n=0.5:3:int", r"parameter n: an int parameter needs integer bounds, but got \(low=0.5, high=3.0\)"),
        ("n=0:10:int:step=2.5", r"parameter n: an int parameter needs an integer step, but got step=2.5"),
        ("2x=0:1", r"parameter name must be letters, digits and _ \(not starting with a digit\), but got '2x'"),
        ("my-radius=0:1", r"but got 'my-radius'"),
        ("mode=a,a", r"parameter mode: choices must be distinct, but got \['a', 'a'\]"),
        ("mode=1,01", r"choices must be distinct, but got \[1, 1\]"),
    ],
)
def test_parse_param_errors(text, message):
    with pytest.raises(ParamError, match=message):
        parse_param(text)


def test_param_errors_are_value_errors():
    with pytest.raises(ValueError, match="must look like"):
        parse_param("radius")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "bool"}, r"parameter p: kind must be one of float, int, choice, but got 'bool'"),
        ({"kind": "choice"}, r"parameter p: a choice needs at least one value"),
        ({"low": 0.0, "high": math.inf}, r"parameter p: bounds must be finite, but got \(low=0.0, high=inf\)"),
    ],
)
def test_param_constructor_errors(kwargs, message):
    with pytest.raises(ParamError, match=message):
        Param("p", **kwargs)


def test_a_single_choice_is_allowed_from_python():
    assert Param("mode", kind="choice", choices=("only",)).distribution() == od.CategoricalDistribution(("only",))


# --- spec: written back in the grammar ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, spec",
    [
        ("radius=0:100", "radius=0:100"),
        ("radius=0.0:100.0", "radius=0:100"),
        ("radius=-0.5:0.30000000000000004", "radius=-0.5:0.30000000000000004"),
        ("n=1:100:int:log", "n=1:100:int:log"),
        ("sigma=0.1:50:log", "sigma=0.1:50:log"),
        ("q=1:9:step=2", "q=1:9:int:step=2"),
        ("x=0:1:step=0.25", "x=0:1:step=0.25"),
        ("x=0:5:int:step=1", "x=0:5:int"),
        ("mode=a,b,c", "mode=a,b,c"),
        ("g=0.5,1,fast", "g=0.5,1,fast"),
    ],
)
def test_spec_round_trip(text, spec):
    param = parse_param(text)
    assert param.spec == spec
    assert parse_param(spec).distribution() == param.distribution()


# --- optuna distributions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, distribution",
    [
        ("radius=0:100", od.FloatDistribution(0.0, 100.0)),
        ("sigma=0.1:50:log", od.FloatDistribution(0.1, 50.0, log=True)),
        ("x=0:1:step=0.25", od.FloatDistribution(0.0, 1.0, step=0.25)),
        ("radius=0:100:int", od.IntDistribution(0, 100)),
        ("n=1:100:int:log", od.IntDistribution(1, 100, log=True)),
        ("q=1:9:step=2", od.IntDistribution(1, 9, step=2)),
        ("mode=a,b", od.CategoricalDistribution(("a", "b"))),
    ],
)
def test_distribution(text, distribution):
    assert parse_param(text).distribution() == distribution


def test_int_distribution_bounds_are_ints():
    distribution = parse_param("q=1:9:step=2").distribution()
    assert isinstance(distribution, od.IntDistribution)
    assert (type(distribution.low), type(distribution.high), type(distribution.step)) == (int, int, int)


@pytest.mark.parametrize("text, high", [("q=1:1.5:step=1", 1), ("q=0:10:step=3", 9), ("q=0:1:step=0.3", 0.9)])
def test_a_grid_ends_at_its_last_point_without_optunas_warning(text, high):
    distribution = parse_param(text).distribution()  # filterwarnings=error: optuna's UserWarning would fail here
    assert distribution.high == pytest.approx(high)


# --- the unit interval -------------------------------------------------------------------------


def test_from_unit_on_a_log_scale_is_geometric():
    assert Param("sigma", 0.1, 50.0, log=True).from_unit(0.5) == pytest.approx(math.sqrt(0.1 * 50.0), rel=1e-12)
    assert Param("s", 0.1, 1000.0, log=True).to_unit(100.0) == pytest.approx(0.75, rel=1e-12)  # 3 of 4 decades


@pytest.mark.parametrize(
    "text, unit, value",
    [
        ("radius=0:100", 0.25, 25.0),
        ("radius=-10:10", 0.5, 0.0),
        ("radius=0:100", -3.0, 0.0),  # clamped into [0, 1]
        ("radius=0:100", 7.0, 100.0),
        ("n=0:10:int", 0.33, 3),
        ("n=1:100:int:log", 0.5, 10),
        ("q=1:9:step=2", 0.3, 3),
        ("x=0:1:step=0.25", 0.6, 0.5),
    ],
)
def test_from_unit(text, unit, value):
    result = parse_param(text).from_unit(unit)
    assert result == pytest.approx(value, abs=1e-12)
    assert type(result) is type(value)


@pytest.mark.parametrize(
    "text, values",
    [
        ("radius=0:100", [0.0, 12.5, 33.3, 100.0]),
        ("radius=-5:5", [-5.0, -1.25, 4.0]),
        ("sigma=0.1:50:log", [0.1, 0.7, 2.0, 49.0, 50.0]),
        ("n=0:20:int", [0, 7, 20]),
        ("n=1:1000:int:log", [1, 10, 31, 999]),
        ("q=1:9:step=2", [1, 5, 9]),
        ("x=0:1:step=0.25", [0.0, 0.25, 0.75]),
    ],
)
def test_unit_round_trip(text, values):
    param = parse_param(text)
    for value in values:
        unit = param.to_unit(value)
        assert 0.0 <= unit <= 1.0
        assert param.from_unit(unit) == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_degenerate_range_maps_to_the_middle():
    param = Param("radius", 3.0, 3.0)
    assert param.to_unit(3.0) == 0.5
    assert param.from_unit(0.9) == 3.0


# --- snap --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value, snapped",
    [
        ("radius=0:100", 42.42, 42.42),
        ("radius=0:100", -1.0, 0.0),
        ("radius=0:100", 101.0, 100.0),
        ("n=0:10:int", 3.4, 3),
        ("n=0:10:int", 3.6, 4),
        ("n=0:10:int", 12.0, 10),
        ("q=1:9:step=2", 4.2, 5),  # the grid starts at low: 1, 3, 5, 7, 9
        ("q=1:9:step=2", 3.9, 3),
        ("x=0:1:step=0.25", 0.3, 0.25),
        ("x=0:1:step=0.25", 0.9, 1.0),
        ("x=0.1:0.3:step=0.1", 0.3, 0.3),  # 0.1 + 2 * 0.1 is 0.30000000000000004: clamped
        ("x=0:1:step=0.6", 0.95, 0.6),  # a step that does not divide the range: the grid's last point
        ("q=1:10:step=2", 10.0, 9),
        ("n=1:100:int:log", 9.7, 10),
    ],
)
def test_snap(text, value, snapped):
    result = parse_param(text).snap(value)
    assert result == pytest.approx(snapped, abs=1e-12)
    assert type(result) is type(snapped)
    assert parse_param(text).low <= result <= parse_param(text).high


@pytest.mark.parametrize(
    "text, resolution",
    [
        ("radius=0:100", 0.0),
        ("sigma=0.1:50:log", 0.0),
        ("n=0:10:int", 0.1),
        ("q=1:9:step=2", 0.25),
        ("x=0:2:step=0.5", 0.25),
        ("n=1:100:int:log", 1 / 99),
    ],
)
def test_resolution(text, resolution):
    assert parse_param(text).resolution == pytest.approx(resolution, rel=1e-12)


def test_numeric():
    assert parse_param("radius=0:1").numeric
    assert not parse_param("mode=a,b").numeric


# --- Space -------------------------------------------------------------------------------------


def test_space_is_an_ordered_named_sequence():
    space = Space.parse(["radius=0:100", "mode=a,b", "sigma=0.1:50:log"])
    assert space.names == ("radius", "mode", "sigma")
    assert len(space) == 3
    assert space[0].name == "radius"
    assert space["sigma"] == Param("sigma", 0.1, 50.0, log=True)
    assert [p.name for p in space] == ["radius", "mode", "sigma"]
    assert [p.name for p in space.numeric] == ["radius", "sigma"]
    assert space.specs() == ["radius=0:100", "mode=a,b", "sigma=0.1:50:log"]
    assert repr(space) == "Space(['radius=0:100', 'mode=a,b', 'sigma=0.1:50:log'])"
    assert space.distributions() == {
        "radius": od.FloatDistribution(0.0, 100.0),
        "mode": od.CategoricalDistribution(("a", "b")),
        "sigma": od.FloatDistribution(0.1, 50.0, log=True),
    }


def test_space_unknown_name_is_a_key_error():
    with pytest.raises(KeyError, match="depth"):
        Space.parse(["radius=0:1"])["depth"]


def test_duplicate_names():
    with pytest.raises(ParamError, match=r"each parameter must be given once, but got radius, sigma twice"):
        Space.parse(["radius=0:1", "sigma=0:1", "radius=1:2", "sigma=0:5", "mode=a,b"])


def test_empty_space():
    with pytest.raises(ParamError, match=r"the search space is empty: give at least one --param name=LOW:HIGH"):
        Space([])


# --- as_space ----------------------------------------------------------------------------------


def test_as_space_returns_a_space_unchanged():
    space = Space.parse(["radius=0:1"])
    assert as_space(space) is space


def test_as_space_from_a_mapping():
    space = as_space(
        {
            "radius": (0, 100),
            "mode": ["a", "b"],
            "level": (1, 2, 3),
            "sigma": "0.1:50:log",
            "gain": Param("gain", 0.5, 2.0),
        }
    )
    assert list(space) == [
        Param("radius", 0.0, 100.0),  # a pair of numbers is a float range, like the CLI's LOW:HIGH
        Param("mode", kind="choice", choices=("a", "b")),
        Param("level", kind="choice", choices=(1, 2, 3)),  # three values: choices
        Param("sigma", 0.1, 50.0, log=True),
        Param("gain", 0.5, 2.0),
    ]


def test_as_space_from_a_pair_of_non_numbers_is_a_choice():
    assert as_space({"mode": ("fast", "slow")})["mode"].choices == ("fast", "slow")


def test_as_space_from_strings_and_params():
    assert as_space("radius=0:1").names == ("radius",)
    space = as_space(["radius=0:1", Param("sigma", 0.1, 5.0, log=True)])
    assert list(space) == [Param("radius"), Param("sigma", 0.1, 5.0, log=True)]


def test_as_space_bad_rule():
    with pytest.raises(
        ParamError, match=r"parameter radius: expected \(low, high\), a list of choices or a 'LOW:HIGH' "
    ):
        as_space({"radius": 5})


def test_as_space_duplicates():
    with pytest.raises(ParamError, match=r"each parameter must be given once, but got radius twice"):
        as_space(["radius=0:1", Param("radius", 0, 2)])
