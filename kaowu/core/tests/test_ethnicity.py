"""GB/T 3304 ethnic group codes."""

from kaowu.core.ethnicity import Ethnicity


def test_56_groups_with_unique_codes_01_to_56():
    assert len(Ethnicity.choices) == 56
    assert Ethnicity.values == [f"{n:02d}" for n in range(1, 57)]
    assert len(set(Ethnicity.labels)) == 56
    assert all(str(label).endswith("族") for label in Ethnicity.labels)


def test_known_codes():
    assert Ethnicity.HAN == "01"
    assert Ethnicity("01").label == "汉族"
    assert Ethnicity("02").label == "蒙古族"
    assert Ethnicity("10").label == "朝鲜族"
    assert Ethnicity("56").label == "基诺族"
