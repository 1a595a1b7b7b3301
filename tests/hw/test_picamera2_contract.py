"""The picamera2 adapter against picamera2's own source (installed without dependencies, read
with ast, never imported), and the stand-in used by the adapter's behaviour tests against the same
source, so that neither can drift from the real library. libcamera control names are checked
against libcamera's control_ids_core.yaml (tests/hw/libcamera_control_ids.txt names its commit).

If the reference source is missing these tests fail: a skipped contract check is no check.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest


def _helper(name: str):
    """A helper module of this folder, loaded by path (tests/hw is no package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


api = _helper("picamera2_api")


@pytest.fixture(scope="module")
def real():
    try:
        folder = api.locate_reference()
    except api.ReferenceMissing as missing:
        pytest.fail(str(missing))
    package = api.read_package(folder)
    assert {"Picamera2", "CompletedRequest", "MappedArray", "Job"} <= set(package.classes), folder
    return package


@pytest.fixture(scope="module")
def standin_api():
    return api.read_package(api.STANDIN / "picamera2")


@pytest.fixture(scope="module")
def control_ids():
    return api.read_control_ids()


@pytest.fixture(scope="module")
def adapter_usages():
    return api.adapter_usages()


@pytest.fixture(scope="module")
def adapter_usage(adapter_usages):
    """What the adapter's modules use, together."""
    return api.merged(adapter_usages.values())


def test_reference_is_the_pinned_release(real):
    # the Makefile pins 0.3.38; a different source would check against the wrong API
    makefile = (api.REPO / "Makefile").read_text()
    assert "PICAMERA2_VERSION := 0.3.38" in makefile
    dist = list(real.folder.parent.glob("picamera2-*.dist-info"))
    assert dist and dist[0].name.startswith("picamera2-0.3.38"), dist


def test_the_extraction_sees_everything_the_adapter_uses(adapter_usage):
    assert api.missing_uses(adapter_usage) == set()
    assert api.REQUIRED_CONTROLS <= {name for name, _ in adapter_usage.controls}
    assert ("AfMode", "Manual") in {(control, member) for control, member, _ in adapter_usage.enums}


def test_every_name_and_keyword_the_adapter_uses_exists_in_picamera2(adapter_usages, real, control_ids):
    assert set(adapter_usages) == {path.name for path in api.ADAPTER_MODULES}
    for name, usage in adapter_usages.items():
        assert api.check_usage(usage, real, control_ids) == [], name


def test_every_module_that_imports_picamera2_or_libcamera_is_checked():
    hw = api.ADAPTER.parent.parent
    importing = {path for path in hw.rglob("*.py")
                 if any(isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("picamera2", "libcamera")
                        for node in ast.walk(ast.parse(path.read_text())))}
    assert importing <= set(api.ADAPTER_MODULES), sorted(str(p) for p in importing - set(api.ADAPTER_MODULES))


def test_the_standin_has_picamera2s_signatures_exactly(standin_api, real):
    assert api.check_standin(standin_api, real) == []


def test_the_standin_offers_everything_the_adapter_uses(adapter_usages, standin_api, control_ids):
    for name, usage in adapter_usages.items():
        assert api.check_usage(usage, standin_api, control_ids) == [], name


def test_the_libcamera_standin_matches_libcameras_control_ids(control_ids):
    tree = ast.parse((api.STANDIN / "libcamera" / "controls.py").read_text())
    enums = {}  # (namespace, control) -> members; draft controls sit in the class ``draft``

    def read(body, namespace):
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Enum"):
                enums[namespace, node.name[:-4]] = {t.targets[0].id: ast.literal_eval(t.value)
                                                    for t in node.body if isinstance(t, ast.Assign)}
            elif isinstance(node, ast.ClassDef) and node.name == "draft":
                read(node.body, "draft")

    read(tree.body, "")
    assert ("", "AfMode") in enums and ("draft", "NoiseReductionMode") in enums, enums
    namespaces = api.read_control_namespaces()
    for (namespace, control), members in enums.items():
        assert members == control_ids[control] and namespaces[control] == namespace, control


@pytest.mark.parametrize("original, changed, expected", [
    ("capture_request(wait=False)", "capture_request(wait=False, flush_ns=True)", "no keyword 'flush_ns'"),
    ('request.make_array("main")', 'request.make_arrays("main")', "make_arrays: no such method"),
    ('"FrameDurationLimits"', '"FrameDurationLimit"', "'FrameDurationLimit' is not a libcamera control id"),
    ("controls.AfModeEnum.Manual", "controls.AfModeEnum.Manualy", "has no member 'Manualy'"),
    ('MappedArray(request, "lores", write=False)', 'MappedArray(request, "lores", writable=False)', "no keyword 'writable'"),
    ('sensor={"output_size"', 'sensor={"outputsize"', "sensor configuration key 'outputsize'"),
    ("picam2.camera_controls", "picam2.camera_controls()", "is a property, not a method"),
    # keys of metadata / control dicts are checked whatever their case
    ('metadata.get("FrameDuration")', 'metadata.get("frame_duration")', "'frame_duration' is not a libcamera control id"),
    ('metadata["ExposureTime"]', 'metadata["exposureTime"]', "'exposureTime' is not a libcamera control id"),
    ('"LensPosition" not in metadata', '"lens_position" not in metadata', "'lens_position' is not a libcamera"),
    ('controls["LensPosition"]', 'controls["lensPosition"]', "'lensPosition' is not a libcamera control id"),
    ('picam2.camera_controls.get("LensPosition")', 'picam2.camera_controls.get("lens")', "'lens' is not a libcamera"),
    ('return {"LensPosition": self._commanded}', 'return {"lensPosition": self._commanded}', "'lensPosition' is not"),
    ('"FrameDurationLimits": (frame_us', '"frame_duration_limits": (frame_us', "'frame_duration_limits' is not"),
    # a draft control's enum is under controls.draft, as the binding has it
    ("controls.draft.NoiseReductionModeEnum.Fast", "controls.NoiseReductionModeEnum.Fast",
     "the binding has it as controls.draft.NoiseReductionModeEnum"),
    ("controls.draft.NoiseReductionModeEnum.Fast", "controls.draft.NoiseReductionModeEnum.Quick", "no member 'Quick'"),
    # the exposure controls and the raw stream (picamera2_exposure.py, picamera2_raw.py)
    ("controls.AwbModeEnum.Daylight", "controls.AwbModeEnum.Sunny", "no member 'Sunny'"),
    ("controls.AeMeteringModeEnum.CentreWeighted", "controls.AeMeteringModeEnum.Centre", "no member 'Centre'"),
    ('wanted["ExposureValue"]', 'wanted["ExposureCompensation"]', "'ExposureCompensation' is not a libcamera"),
    ('"AwbMode": awb[', '"AwbModes": awb[', "'AwbModes' is not a libcamera control id"),
    ('request.make_array("raw")', 'request.make_raw("raw")', "make_raw: no such method"),
    ("picam2.sensor_format)", "picam2.raw_format)", "raw_format: no such member"),
    ("sensor_format.bayer_order not in", "sensor_format.order not in", "SensorFormat.order: no such member"),
    ("from picamera2 import SensorFormat", "from picamera2 import RawFormat", "exports no 'RawFormat'"),
])
def test_the_check_fails_when_a_name_or_keyword_changes(original, changed, expected, real, control_ids):
    found = [path.read_text() for path in api.ADAPTER_MODULES if original in path.read_text()]
    assert found, original
    source = found[0]
    problems = api.check_usage(api.read_usage(source.replace(original, changed)), real, control_ids)
    assert any(expected in problem for problem in problems), problems


def test_a_standin_that_drifts_is_caught(real, tmp_path):
    folder = tmp_path / "picamera2"
    folder.mkdir()
    for path in (api.STANDIN / "picamera2").glob("*.py"):
        (folder / path.name).write_text(path.read_text())
    changed = (folder / "picamera2.py").read_text().replace(
        "def capture_request(self, wait=None, signal_function=None, flush=None):",
        "def capture_request(self, wait=None, signal_function=None, flush=None, timeout=None):")
    (folder / "picamera2.py").write_text(changed)
    problems = api.check_standin(api.read_package(folder), real)
    assert any("Picamera2.capture_request" in problem for problem in problems), problems


def test_a_missing_reference_fails_rather_than_skips(monkeypatch, tmp_path):
    monkeypatch.setenv("PICAMERA2_REF", str(tmp_path))
    monkeypatch.setattr(api, "REPO", tmp_path)
    monkeypatch.setattr(api.sys, "prefix", str(tmp_path))
    with pytest.raises(api.ReferenceMissing):
        api.locate_reference()
