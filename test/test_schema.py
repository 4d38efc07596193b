# Copyright 2026 vitedge_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The one config language (vitedge_ros.schema).

Messages give the key path, the allowed range or choices and the value; recipes, training configs,
data entries and node parameters raise their own classes with it.
"""

import numpy as np
import pytest
from vitedge_ros import schema
from vitedge_ros.schema import (
    ABSENT,
    boolean,
    choice,
    either,
    exactly,
    integer,
    list_of,
    mapping,
    num,
    optional,
    read_yaml,
    SchemaError,
)


@pytest.mark.parametrize(
    'checker, value, message',
    [
        (num(0, 1, lo_open=True), 0, 'k: expected a number in (0, 1], got 0'),
        (num(0), -0.5, 'k: expected a number >= 0, got -0.5'),
        (num(0, lo_open=True), 0.0, 'k: expected a number > 0, got 0.0'),
        (num(hi=5, hi_open=True), 5, 'k: expected a number < 5, got 5'),
        (num(), float('nan'), 'k: expected a number, got nan'),
        (num(), True, 'k: expected a number, got True'),
        (integer(1), 2.5, 'k: expected an integer >= 1, got 2.5'),
        (integer(0, 8), 9, 'k: expected an integer in [0, 8], got 9'),
        (
            integer(0),
            np.bool_(True),
            'k: expected an integer >= 0, got {!r}'.format(np.bool_(True)),
        ),
        (boolean, 'yes', "k: expected true or false, got 'yes'"),
        (choice('a', 'b'), 'c', "k: expected one of a, b, got 'c'"),
        (
            either(exactly(-1, what='-1 (auto)'), integer(0, 8)),
            9,
            'k: expected -1 (auto) or an integer in [0, 8], got 9',
        ),
        (exactly(-1), -1.0, 'k: expected -1, got -1.0'),
        (list_of(integer(0)), [1, -1], 'k[1]: expected an integer >= 0, got -1'),
    ],
)
def test_messages_give_path_range_and_value(checker, value, message):
    with pytest.raises(SchemaError) as err:
        checker(value, 'k')
    assert str(err.value) == message and err.value.path == message.split(':')[0]


def test_numpy_scalars_are_the_numbers_they_are():
    assert num(0, 1)(np.float32(0.5), 'k') == 0.5 and integer(1)(np.int64(3), 'k') == 3
    assert boolean(np.bool_(False), 'k') is False
    assert either(exactly(-1.0), num(0, 1))(-1, 'k') == -1.0 and optional(num())(None, 'k') is None


def test_mapping_defaults_unknown_required_and_renamed_keys():
    m = mapping(
        {'a': (integer(0), 3), 'b': (num(), ABSENT), 'c': (list_of(integer(0)), [])},
        required=('a',),
        renamed={'old_a': 'a'},
    )
    out = m({'a': 1}, 'top')
    assert out == {'a': 1, 'c': []} and 'b' not in out
    for value, message in (
        ({'a': 1, 'z': 0}, 'top.z: unknown key (known: a, b, c)'),
        ({}, 'top.a: required key is missing'),
        ({'old_a': 1}, 'top.old_a: renamed top.a'),
        ([1], 'top: expected a mapping, got [1]'),
    ):
        with pytest.raises(SchemaError) as err:
            m(value, 'top')
        assert str(err.value) == message
    with pytest.raises(SchemaError, match=r'^z: unknown key'):
        m({'a': 1, 'z': 0}, '')  # the top level names its keys bare


def test_read_yaml_names_the_file(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('a: [1,\n  b: 2\n')
    with pytest.raises(SchemaError) as err:
        read_yaml(bad, 'recipe')
    assert str(err.value).startswith('{}: not valid YAML: line '.format(bad)) and '\n' not in str(
        err.value
    )
    with pytest.raises(SchemaError, match='recipe file does not exist'):
        read_yaml(tmp_path / 'none.yaml', 'recipe')


@pytest.mark.needs('torch')  # recipe stages are torch plug-ins
def test_each_user_keeps_its_error_class_and_the_message():
    from vitedge_ros.compress.recipe import RecipeError, validate_recipe
    from vitedge_ros.data.sources import check_data, DataConfigError
    from vitedge_ros.perception.core import ParamError, validate_params
    from vitedge_ros.training.config import ConfigError, validate_config

    with pytest.raises(
        RecipeError, match=r'^stages\[0\]\.prune\.ratio: expected a number in \(0, 1\), got 1\.5$'
    ):
        validate_recipe(
            {
                'model': {'arch': 'x'},
                'data': {'name': 'digits'},
                'stages': [{'prune': {'ratio': 1.5}}],
            }
        )
    cfg = {
        'name': 't',
        'task': 'detect',
        'model': {'arch': 'x'},
        'data': {'name': 'synthetic-aerial'},
        'input': {
            'width': 64,
            'height': 48,
            'color': 'rgb',
            'mean': [0.5] * 3,
            'std': [0.25] * 3,
            'resize': 'letterbox',
        },
        'train': {'epochs': 1, 'lr': 'fast'},
    }
    with pytest.raises(ConfigError, match=r"^train\.lr: expected a number > 0, got 'fast'$"):
        validate_config(cfg)
    with pytest.raises(
        DataConfigError, match=r'^data\.mix\[0\]\.weight: expected a number > 0, got 0$'
    ):
        check_data({'mix': [{'name': 'visdrone', 'root': 'x', 'weight': 0}]})
    with pytest.raises(ParamError) as err:
        validate_params({'mono16_shift': 12})
    assert err.value.name == 'mono16_shift' and str(err.value) == (
        "parameter 'mono16_shift': expected -1 (fixed from the first 16-bit frame) or an integer "
        'in [0, 8], got 12'
    )
    assert not issubclass(ParamError, SchemaError) and schema.SchemaError is SchemaError


def test_every_node_parameter_has_a_checker():
    """
    A new parameter gets its type and range from the one config language.

    Label lists are checked against the bundle's labels.
    """
    from vitedge_ros.perception.core import PARAM_CHECKS, PARAM_SPECS, validate_params

    lists = {'classes', 'obstacle_classes', 'landing_safe_classes'}
    assert {s.name for s in PARAM_SPECS} == set(PARAM_CHECKS) | lists
    defaults = validate_params({s.name: s.default for s in PARAM_SPECS})
    for s in PARAM_SPECS:  # every default passes its own checker
        assert (
            PARAM_CHECKS[s.name](s.default, s.name) is not None if s.name in PARAM_CHECKS else True
        )
    assert defaults.person_height_m > 0 and defaults.score_threshold is None
