"""Chart.yaml's release metadata: appVersion follows images/versions.yaml, Artifact Hub annotations
name the pinned images, this version's changelog entries and the license the repository carries."""

from __future__ import annotations

import pytest
import yaml

from leviathan import versions
from leviathan.release import changelog
from leviathan.release.annotations import LICENSE_FILE, LICENSE_SPDX, fix_links, pinned_images, slug
from leviathan.release.ledger import Layout

LAYOUT = Layout()
CHARTS = LAYOUT.chart_names()


def chart_yaml(chart: str) -> dict:
    return yaml.safe_load((LAYOUT.charts / chart / "Chart.yaml").read_text())


def values(chart: str) -> dict:
    return yaml.safe_load((LAYOUT.charts / chart / "values.yaml").read_text())


@pytest.mark.parametrize("chart", CHARTS)
def test_app_version_is_the_engine_pin(chart):
    """The engine image(s) under `image` (one block, or one per flavour) are pins whose appVersion
    is the chart's."""
    engines = [item["image"] for item in pinned_images(values(chart)) if item["name"].split(".")[0].split(" ")[0] == "image"]
    assert engines, f"{chart}: no engine image under `image`"
    by_ref = {p.ref: p for p in versions.images().values()}
    for ref in engines:
        assert ref in by_ref, f"{chart}: engine image {ref} is not pinned in images/versions.yaml"
        assert chart_yaml(chart)["appVersion"] == by_ref[ref].app_version, ref


@pytest.mark.parametrize("chart", CHARTS)
def test_images_annotation_lists_every_pinned_default_image(chart):
    listed = yaml.safe_load(chart_yaml(chart)["annotations"]["artifacthub.io/images"])
    pinned = {p.ref for p in versions.images().values()}
    assert listed, chart
    assert any(item["name"].split(".")[0].split(" ")[0] == "image" for item in listed), f"{chart}: no engine image"
    for item in listed:
        assert item["image"] in pinned, f"{chart}: {item} is not an images/versions.yaml pin"
        assert not item["image"].endswith(":latest")
    text = (LAYOUT.charts / chart / "values.yaml").read_text()
    blocks = {item["name"].split(" (")[0] for item in listed}  # one value path per image block
    assert text.count("  repository: ") == len(blocks), f"{chart}: an image block is missing from the annotation"


@pytest.mark.parametrize("chart", CHARTS)
def test_changes_annotation_is_this_versions_changelog(chart):
    meta = chart_yaml(chart)
    entries = changelog.load(LAYOUT.releases, chart)[meta["version"]]
    assert yaml.safe_load(meta["annotations"]["artifacthub.io/changes"]) == changelog.artifacthub_changes(entries)
    packaged = (LAYOUT.charts / chart / "CHANGELOG.md").read_text()
    assert packaged == changelog.path_for(LAYOUT.releases, chart).read_text()


@pytest.mark.parametrize("chart", CHARTS)
def test_license_annotation_agrees_with_the_license_file(chart):
    text = LICENSE_FILE.read_text()
    assert LICENSE_SPDX == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert chart_yaml(chart)["annotations"]["artifacthub.io/license"] == LICENSE_SPDX
    assert (LAYOUT.charts / chart / "LICENSE").read_text() == text


@pytest.mark.parametrize("chart", CHARTS)
def test_links_point_at_the_seed_fixes_section_of_the_readme(chart):
    meta = chart_yaml(chart)
    links = yaml.safe_load(meta["annotations"].get("artifacthub.io/links", "[]"))
    readme = (LAYOUT.charts / chart / "README.md").read_text()
    headings = {slug(line[3:]) for line in readme.splitlines() if line.startswith("## ")}
    assert links, (f"{chart}: no link to the seed problems the chart fixes: give the chart's README notes a "
                   f"`## How this chart fixes the seed deployment` section with `* **<problem>.**` bullets")
    for link in links:
        assert link["name"].startswith("Fixes: ")
        assert link["url"].split("#")[1] in headings


def test_fix_links_read_the_bullets():
    notes = "## How this chart fixes the seed deployment\n\n* **Pinned image.** The seed ran latest.\n\n## Other\n* **No.** x"
    assert fix_links("https://h/c", notes) == [
        {"name": "Fixes: Pinned image", "url": "https://h/c#how-this-chart-fixes-the-seed-deployment"}]
