"""A compiled rule set crosses processes (worker pool, Spark, the on-disk cache) as a pickle."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from helpers import make_batch

import screener
from screener import model
from screener.compiled import Slot


@pytest.fixture(scope="module")
def bundled() -> screener.RuleSet:
    return screener.load_rules()


def test_model_objects_round_trip_equal_and_frozen(bundled):
    samples = [bundled.slots[0], bundled.slots[-1], bundled.rules[0].rule, bundled.rules[-1].rule]
    samples += [bundled.rules[0].rule.examples[0], bundled.packset.packs[0]]
    for obj in samples:
        back = pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == obj and type(back) is type(obj)
        with pytest.raises(dataclasses.FrozenInstanceError):
            back.__setattr__(dataclasses.fields(back)[0].name, None)


def test_every_slotted_model_class_pickles_by_fields():
    classes = [c for c in vars(model).values() if dataclasses.is_dataclass(c) and hasattr(c, "__slots__")] + [Slot]
    assert len(classes) >= 10
    for cls in classes:
        names = [f.name for f in dataclasses.fields(cls)]
        obj = object.__new__(cls)
        for i, n in enumerate(names):
            object.__setattr__(obj, n, i)
        assert obj.__getstate__() == tuple(range(len(names)))
        back = object.__new__(cls)
        back.__setstate__(obj.__getstate__())
        assert [getattr(back, n) for n in names] == list(range(len(names)))


def test_an_unpickled_rule_set_scans_the_same(bundled):
    batch = make_batch(
        [
            {"item_id": "1", "title": "老挝回流 象-牙手镯 全网最低价 第一"},
            {"item_id": "2", "title": "猫池 设备 批发", "shop_license_no": "91350100M000100Y43"},
            {"item_id": "3", "title": "纯棉 象牙白T恤"},
        ]
    )
    again = pickle.loads(pickle.dumps(bundled, protocol=pickle.HIGHEST_PROTOCOL))
    want = screener.scan_batch(batch, bundled).hits.to_pylist()
    assert want and screener.scan_batch(batch, again).hits.to_pylist() == want
