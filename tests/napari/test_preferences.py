"""Preferences: the core dataclass, the manifest's ``configurations`` and napari's
plugin settings (napari ≥ 0.9), with the fallback for older napari.

The napari tests use napari's own ``plugin_settings`` fixture (with npe2's ``npe2pm``):
it clears napari's plugin-settings cache and points napari's config path at this test's
``tmp_path``, so no test reads or writes the user's real napari settings.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from npe2 import PluginManifest

from napari_allen_sync.annotation import (
    DEFAULT_DOWNLOAD_BASE_URL,
    DEFAULT_RESOLUTION_UM,
    RESOLUTIONS_UM,
    annotation_url,
)
from napari_allen_sync.cache import default_cache_dir
from napari_allen_sync.client import DEFAULT_BASE_URI, DEFAULT_DEADLINE, DEFAULT_TIMEOUT, AllenApi
from napari_allen_sync.errors import AllenSyncError, WriteError
from napari_allen_sync.preferences import (
    CONFIGURATION_KEY,
    DEFAULT_RETRIES,
    LIMITS,
    TITLES,
    InvalidPreferenceError,
    Preferences,
)
from napari_allen_sync.remote import RemoteSource

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "napari-allen-sync"
LOOPBACK = "http://127.0.0.1:9"  # discard port: nothing is sent when a source is built


# ---------------------------------------------------------------------------- core
def test_defaults_are_the_client_and_remote_source_defaults():
    p = Preferences()
    assert p.api_base_url == DEFAULT_BASE_URI
    assert p.cache_dir == ""
    assert (p.connect_timeout_s, p.read_timeout_s) == DEFAULT_TIMEOUT
    assert p.timeout == DEFAULT_TIMEOUT
    assert p.deadline == DEFAULT_DEADLINE
    assert p.retries == DEFAULT_RETRIES
    assert inspect.signature(RemoteSource).parameters["retries"].default == DEFAULT_RETRIES
    assert inspect.signature(AllenApi).parameters["retries"].default == DEFAULT_RETRIES


BAD = [
    ("api_base_url", "api.brain-map.org", "must begin with http:// or https://"),
    ("api_base_url", "ftp://api.brain-map.org", "must begin with http:// or https://"),
    ("api_base_url", "file:///etc/passwd", "must begin with http:// or https://"),
    ("api_base_url", "", "must not be empty"),
    ("api_base_url", "   ", "must not be empty"),
    ("api_base_url", "https://", "has no host name"),
    ("api_base_url", "http:/127.0.0.1", "has no host name"),
    ("api_base_url", "http://my host", "must not contain spaces"),
    ("api_base_url", "http://127.0.0.1:99999", "is not a URL"),
    ("api_base_url", "https://api.brain-map.org/?q=1", "query"),
    ("api_base_url", "https://api.brain-map.org#top", "fragment"),
    ("api_base_url", "https://me:pw@api.brain-map.org", "user name"),
    ("api_base_url", None, "must be a string"),
    ("cache_dir", "relative/folder", "must be an absolute folder"),
    ("cache_dir", "/tmp/a\x00b", "NUL"),
    ("cache_dir", 3, "must be a string"),
    ("connect_timeout_s", -1.0, "between 0.1 and 60 seconds"),
    ("connect_timeout_s", 0, "between 0.1 and 60 seconds"),
    ("connect_timeout_s", 61, "between 0.1 and 60 seconds"),
    ("connect_timeout_s", math.nan, "finite"),
    ("connect_timeout_s", math.inf, "finite"),
    ("connect_timeout_s", "3", "must be a number"),
    ("connect_timeout_s", True, "must be a number"),
    ("read_timeout_s", -30.0, "between 1 and 300 seconds"),
    ("read_timeout_s", 0.5, "between 1 and 300 seconds"),
    ("read_timeout_s", 301, "between 1 and 300 seconds"),
    ("read_timeout_s", -math.inf, "finite"),
    ("read_timeout_s", float("nan"), "finite"),
    ("read_timeout_s", None, "must be a number"),
    ("retries", -1, "between 0 and 10"),
    ("retries", 11, "between 0 and 10"),
    ("retries", 2.5, "whole number"),
    ("retries", math.nan, "whole number"),
    ("retries", False, "whole number"),
    ("retries", "3", "whole number"),
    ("annotation_resolution", 30, "must be one of 10, 25, 50, 100 µm"),
    ("annotation_resolution", "25 µm", "must be one of 10, 25, 50, 100 µm"),
    ("annotation_resolution", 25.5, "must be one of 10, 25, 50, 100 µm"),
    ("annotation_resolution", True, "must be one of 10, 25, 50, 100 µm"),
    ("annotation_resolution", None, "must be one of 10, 25, 50, 100 µm"),
    ("annotation_base_url", "download.alleninstitute.org", "must begin with http:// or "
                                                           "https://, e.g. http://download"),
    ("annotation_base_url", "http://x/?q", "query"),
    ("annotation_base_url", 5, "must be a string"),
]


@pytest.mark.parametrize(("setting", "value", "fragment"), BAD)
def test_a_bad_value_is_refused_naming_the_setting(setting, value, fragment):
    with pytest.raises(InvalidPreferenceError) as info:
        Preferences(**{setting: value})
    err = info.value
    assert isinstance(err, AllenSyncError)
    assert isinstance(err, ValueError)
    assert (err.setting, err.reason) == (setting, err.reason)
    assert err.value is value or (isinstance(value, float) and math.isnan(value))
    text = str(err)
    assert fragment in text
    assert text.startswith(f"preference {setting} ({TITLES[setting]}) = {value!r}: ")
    with pytest.raises(InvalidPreferenceError, match=setting):
        Preferences.check(setting, value)


def test_values_are_normalized():
    p = Preferences(api_base_url="  HTTP://127.0.0.1:8765/prefix/ ", cache_dir="  ~/allen  ",
                    connect_timeout_s=2, read_timeout_s=60, retries=5.0)
    assert p.api_base_url == "http://127.0.0.1:8765/prefix"
    assert p.cache_dir == "~/allen"
    assert p.resolved_cache_dir() == Path("~/allen").expanduser()
    assert type(p.connect_timeout_s) is float and p.timeout == (2.0, 60.0)
    assert type(p.retries) is int and p.retries == 5
    assert Preferences(cache_dir="   ").cache_dir == ""
    assert Preferences(cache_dir=Path("/data/allen")).cache_dir == "/data/allen"
    assert Preferences(api_base_url="https://[::1]:8765").api_base_url == "https://[::1]:8765"
    assert Preferences(api_base_url=DEFAULT_BASE_URI + "/") == Preferences()


def test_preferences_are_frozen_and_hashable():
    p = Preferences()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.retries = 1
    assert hash(p) == hash(Preferences())
    assert Preferences.names() == (
        "api_base_url", "cache_dir", "connect_timeout_s", "read_timeout_s", "retries",
        "annotation_resolution", "annotation_base_url")


def test_annotation_settings_default_to_allens_and_are_normalized():
    p = Preferences()
    assert (p.annotation_resolution, p.annotation_base_url) == (DEFAULT_RESOLUTION_UM, "")
    for text in ("10", " 50 ", 100, 25.0):
        assert Preferences(annotation_resolution=text).annotation_resolution == int(text)
    assert Preferences(annotation_base_url="  ").annotation_base_url == ""
    got = Preferences(annotation_base_url="HTTP://127.0.0.1:8765/").annotation_base_url
    assert got == "http://127.0.0.1:8765"


def test_save_and_load_round_trip_atomically(tmp_path):
    p = Preferences(api_base_url="http://127.0.0.1:8765", annotation_resolution="50",
                    annotation_base_url="http://127.0.0.1:8766", retries=0)
    path = p.save(tmp_path / "prefs.json")
    assert Preferences.load(path) == p
    assert json.loads(path.read_text())["annotation_resolution"] == 50
    assert [f.name for f in tmp_path.iterdir()] == ["prefs.json"]  # no partial left
    with pytest.raises(WriteError):  # a missing folder: nothing written
        p.save(tmp_path / "missing" / "prefs.json")
    path.write_text('{"annotation_resolution": 30}')
    with pytest.raises(InvalidPreferenceError, match="annotation_resolution"):
        Preferences.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(InvalidPreferenceError, match="JSON object"):
        Preferences.load(path)
    path.write_text("{not json")
    with pytest.raises(InvalidPreferenceError, match="is not JSON"):
        Preferences.load(path)
    with pytest.raises(InvalidPreferenceError, match="cannot be read"):
        Preferences.load(tmp_path / "absent.json")


def test_from_mapping_raises_or_falls_back_per_setting():
    values = {"api_base_url": "example.org", "read_timeout_s": 45, "retries": -2,
              "unknown_key": "ignored"}
    with pytest.raises(InvalidPreferenceError, match="api_base_url"):
        Preferences.from_mapping(values)
    errors = []
    p = Preferences.from_mapping(values, on_invalid=errors.append)
    assert p == Preferences(read_timeout_s=45)
    assert [e.setting for e in errors] == ["api_base_url", "retries"]
    assert Preferences.from_mapping({}) == Preferences()


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(["connect_timeout_s", "read_timeout_s"]), data=st.data())
def test_any_timeout_within_the_limits_round_trips(name, data):
    lo, hi = LIMITS[name]
    value = data.draw(st.floats(lo, hi))
    p = Preferences(**{name: value})
    assert getattr(p, name) == value
    assert p.deadline >= max(DEFAULT_DEADLINE, sum(p.timeout))


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(["connect_timeout_s", "read_timeout_s"]),
       value=st.floats(allow_nan=True, allow_infinity=True))
def test_any_timeout_outside_the_limits_is_refused(name, value):
    lo, hi = LIMITS[name]
    if lo <= value <= hi:
        assert getattr(Preferences(**{name: value}), name) == value
    else:
        with pytest.raises(InvalidPreferenceError, match=name):
            Preferences(**{name: value})


@settings(max_examples=100, deadline=None)
@given(scheme=st.sampled_from(["http", "https", "HTTPS"]),
       host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True),
       port=st.none() | st.integers(1, 65535),
       path=st.sampled_from(["", "/", "/api", "/a/b/"]))
def test_any_http_url_is_accepted_without_trailing_slash(scheme, host, port, path):
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"
    got = Preferences(api_base_url=url).api_base_url
    assert got == (scheme.lower() + url[len(scheme):]).rstrip("/")
    assert AllenApi(got).base_uri == got


def test_kwargs_build_a_real_remote_source(tmp_path):
    p = Preferences(api_base_url=LOOPBACK + "/", cache_dir=str(tmp_path / "cache"),
                    connect_timeout_s=0.5, read_timeout_s=120, retries=0)
    kwargs = p.remote_source_kwargs()
    assert set(kwargs) == {"base_uri", "cache_dir", "timeout", "retries", "deadline",
                           "annotation_resolution", "annotation_base_url"}
    source = RemoteSource(**kwargs)
    try:
        assert source.api.base_uri == LOOPBACK
        assert source.name == LOOPBACK
        assert source.api.timeout == (0.5, 120.0)
        assert source.api.retries == 0
        assert source.api.deadline == DEFAULT_DEADLINE + 30.5
        assert source.cache.root == tmp_path / "cache"
        assert (tmp_path / "cache" / "VERSION").is_file()
        assert source.fetched == []  # nothing was requested
        # the annotation volume comes from the API server itself (automatic), at 25 µm
        assert source.annotation_url == annotation_url(25, LOOPBACK)
    finally:
        source.close()
    p = dataclasses.replace(p, annotation_resolution=50,
                            annotation_base_url="http://127.0.0.1:10")
    source = RemoteSource(**p.remote_source_kwargs())
    try:
        assert source.annotation_resolution == 50
        assert source.annotation_url == annotation_url(50, "http://127.0.0.1:10")
        assert source.annotation_path().name == "annotation_50.nrrd"
    finally:
        source.close()


def test_default_kwargs_build_the_default_remote_source():
    source = RemoteSource(**Preferences().remote_source_kwargs())
    try:
        assert source.name == "Allen Brain Atlas API"
        assert source.api.base_uri == DEFAULT_BASE_URI
        assert source.api.timeout == DEFAULT_TIMEOUT
        assert source.api.deadline == DEFAULT_DEADLINE
        assert source.cache.root == default_cache_dir()  # $NAPARI_ALLEN_SYNC_CACHE (conftest)
        assert source.annotation_url == annotation_url(DEFAULT_RESOLUTION_UM,
                                                       DEFAULT_DOWNLOAD_BASE_URL)
    finally:
        source.close()


def test_the_core_module_imports_neither_napari_nor_qt():
    code = (
        "import sys, napari_allen_sync.preferences\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy', 'magicgui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "", out.stdout


# ---------------------------------------------------------------------------- manifest
def test_manifest_configuration_matches_the_core():
    manifest = PluginManifest.from_file(ROOT / "napari.yaml")
    conf = manifest.contributions.configurations[CONFIGURATION_KEY]
    assert conf.title == "Allen Brain Atlas API"
    assert tuple(conf.properties) == Preferences.names()
    defaults = Preferences()
    kinds = {str: "string", float: "number", int: "integer"}
    # napari's dropdown needs text choices: the resolution is declared as strings
    resolution = conf.properties["annotation_resolution"]
    assert resolution.type == "string"
    assert resolution.enum == [str(r) for r in RESOLUTIONS_UM]
    assert Preferences.check("annotation_resolution", resolution.default) == 25
    for name, prop in conf.properties.items():
        if name == "annotation_resolution":
            continue
        default = getattr(defaults, name)
        assert prop.default == default, name
        assert prop.type == kinds[type(default)], name
        assert prop.title == TITLES[name]
        assert prop.description
        Preferences.check(name, prop.default)
        if name in LIMITS:
            assert (prop.minimum, prop.maximum) == LIMITS[name], name


# ---------------------------------------------------------------------------- napari
napari_settings = pytest.importorskip("napari.settings")
if not hasattr(napari_settings, "get_plugin_settings"):  # pragma: no cover
    pytest.skip("napari < 0.9 has no plugin settings", allow_module_level=True)

from napari.utils.notifications import NotificationSeverity, notification_manager  # noqa: E402

from napari_allen_sync._napari import preferences as napari_prefs  # noqa: E402


@pytest.fixture
def registered(npe2pm, plugin_settings, tmp_path, monkeypatch):
    """Our manifest alone in npe2's test plugin manager; napari's settings in tmp_path."""
    for name in list(os.environ):  # napari reads NAPARI_ALLENSYNC_<PROPERTY> overrides
        if name.upper().startswith("NAPARI_ALLENSYNC"):
            monkeypatch.delenv(name)
    npe2pm.register(PluginManifest.from_file(ROOT / "napari.yaml"))
    return tmp_path / f"{PLUGIN}.yaml"


@pytest.fixture
def warnings_shown():
    start = len(notification_manager.records)
    return lambda: [n for n in notification_manager.records[start:]
                    if n.severity == NotificationSeverity.WARNING]


def test_napari_settings_default_to_the_core_defaults(registered, warnings_shown):
    s = napari_settings.get_plugin_settings(PLUGIN)
    assert s.config_path == registered  # the test's folder, not the user's
    assert napari_prefs.current_preferences() == Preferences()
    assert warnings_shown() == []


def test_a_change_in_napari_is_read_and_saved_in_napari_config(registered):
    remote = napari_settings.get_plugin_settings(PLUGIN).allensync
    remote.api_base_url = "http://127.0.0.1:8765/"
    remote.read_timeout_s = 90
    remote.retries = 0
    p = napari_prefs.current_preferences()
    assert p == Preferences(api_base_url="http://127.0.0.1:8765", read_timeout_s=90, retries=0)
    saved = registered.read_text()
    assert "api_base_url: http://127.0.0.1:8765/" in saved
    assert "retries: 0" in saved


def test_a_bad_stored_value_warns_and_takes_its_default(registered, warnings_shown):
    registered.write_text("allensync:\n  api_base_url: api.brain-map.org\n  retries: 4\n")
    p = napari_prefs.current_preferences()
    assert p == Preferences(retries=4)
    (shown,) = warnings_shown()
    assert "api_base_url" in shown.message
    assert "API base URL" in shown.message
    assert "must begin with http:// or https://" in shown.message
    assert DEFAULT_BASE_URI in shown.message


def test_an_out_of_range_stored_value_is_reset_by_napari(registered):
    registered.write_text("allensync:\n  read_timeout_s: -5\n  connect_timeout_s: 2\n")
    p = napari_prefs.current_preferences()  # napari drops the value refused by the schema
    assert p == Preferences(connect_timeout_s=2)


def test_on_change_calls_back_with_the_new_preferences(registered, warnings_shown):
    remote = napari_settings.get_plugin_settings(PLUGIN).allensync
    seen = []
    disconnect = napari_prefs.on_change(seen.append)
    remote.connect_timeout_s = 1.5
    assert seen == [Preferences(connect_timeout_s=1.5)]
    remote.cache_dir = "relative"  # refused by the core: default, with a warning
    assert seen[-1] == Preferences(connect_timeout_s=1.5)
    assert "cache_dir" in warnings_shown()[-1].message
    napari_settings.get_plugin_settings(PLUGIN).reset()  # as "Restore defaults" does
    assert seen[-1] == Preferences()
    count = len(seen)
    disconnect()
    disconnect()  # idempotent
    remote.retries = 7
    assert len(seen) == count


def test_older_napari_falls_back_to_the_defaults(monkeypatch, caplog):
    monkeypatch.delattr(napari_settings, "get_plugin_settings")
    caplog.set_level(logging.DEBUG, logger=napari_prefs.__name__)
    assert napari_prefs.current_preferences() == Preferences()
    assert "napari plugin settings unavailable (AttributeError" in caplog.text
    seen = []
    disconnect = napari_prefs.on_change(seen.append)
    disconnect()
    assert seen == []


def test_no_napari_falls_back_to_the_defaults(monkeypatch):
    monkeypatch.setitem(sys.modules, "napari", None)
    assert napari_prefs.current_preferences() == Preferences()
    napari_prefs.on_change(print)()


def test_undiscovered_plugin_falls_back_to_the_defaults(npe2pm, plugin_settings, caplog):
    caplog.set_level(logging.DEBUG, logger=napari_prefs.__name__)
    assert napari_prefs.current_preferences() == Preferences()
    assert "KeyError" in caplog.text


def test_broken_napari_settings_never_raise(monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("settings exploded")

    monkeypatch.setattr(napari_settings, "get_plugin_settings", broken)
    assert napari_prefs.current_preferences() == Preferences()
    assert "settings exploded" in caplog.text


# ---------------------------------------------------------------------- the widget



@pytest.mark.gui
def test_the_widget_connects_where_the_preferences_say(registered, server, tmp_path, qtbot,
                                                       make_napari_viewer):
    """The dock's "Allen Brain Atlas API" source is built from napari's settings: our own
    loopback server as base URL, a private cache folder, the timeouts and retries."""
    from napari_allen_sync._napari.widget import AllenSyncWidget
    from napari_allen_sync.remote import RemoteSource

    remote = napari_settings.get_plugin_settings(PLUGIN).allensync
    remote.api_base_url = server.base
    remote.cache_dir = str(tmp_path / "prefs-cache")
    remote.connect_timeout_s = 1.5
    remote.read_timeout_s = 7
    remote.retries = 1
    viewer = make_napari_viewer()
    widget = AllenSyncWidget(viewer, source=RemoteSource(server.base, tmp_path / "c0"))
    viewer.window.add_dock_widget(widget)
    qtbot.waitUntil(lambda: widget.source is not None and not widget.running_workers(),
                    timeout=30_000)
    with qtbot.waitSignal(widget.source_ready, timeout=30_000) as blocker:
        widget.source_view.choice.setCurrentIndex(1)  # "Allen Brain Atlas API"
    assert blocker.args[0] == "online"  # it answered: the loopback server
    source = widget.source
    assert source.api.base_uri == server.base.rstrip("/")
    assert source.api.timeout == (1.5, 7.0)
    assert source.cache.root == tmp_path / "prefs-cache"
    # a change while connected is announced; it applies on the next connection
    from napari.utils.notifications import notification_manager

    start = len(notification_manager.records)
    remote.read_timeout_s = 9
    assert any("reconnect" in str(n.message) for n in notification_manager.records[start:])
    assert widget.source.api.timeout == (1.5, 7.0)
    widget.close()


def test_an_environment_variable_overrides_a_setting(npe2pm, plugin_settings, monkeypatch):
    """napari's own override, ``NAPARI_<configuration>_<property>``: our one-word key
    makes the name unambiguous (napari splits at the first underscore)."""
    monkeypatch.setenv("NAPARI_ALLENSYNC_RETRIES", "5")
    monkeypatch.setenv("NAPARI_ALLENSYNC_API_BASE_URL", "http://127.0.0.1:9999")
    npe2pm.register(PluginManifest.from_file(ROOT / "napari.yaml"))
    p = napari_prefs.current_preferences()
    assert p.retries == 5
    assert p.api_base_url == "http://127.0.0.1:9999"


# ------------------------------------------------------------ napari's Preferences dialog
def _preferences_dialog(viewer, qtbot):
    """napari's Preferences dialog, opened from the File menu."""
    from qtpy.QtWidgets import QApplication, QDialog

    (action,) = [a for a in viewer.window.file_menu.actions() if a.text() == "Preferences"]
    action.trigger()
    dialogs = []

    def found():
        dialogs[:] = [w for w in QApplication.topLevelWidgets()
                      if isinstance(w, QDialog) and w.windowTitle() == "Preferences"
                      and w.isVisible()]
        return bool(dialogs)

    qtbot.waitUntil(found, timeout=10_000)
    return dialogs[0]


def _our_page(dialog, qtbot):
    """Click our plugin's entry in the dialog's list; the page's form layout."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFormLayout, QLabel, QListWidget

    listing = dialog.findChild(QListWidget, "Preferences")
    (item,) = listing.findItems("Allen Brain Atlas Sync", Qt.MatchFlag.MatchExactly)
    listing.scrollToItem(item)
    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton,
                     pos=listing.visualItemRect(item).center())
    assert listing.currentItem() is item
    fields = {}
    for layout in dialog.findChildren(QFormLayout):
        for row in range(layout.rowCount()):
            label = layout.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = layout.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label is not None and field is not None and isinstance(label.widget(), QLabel):
                fields[label.widget().text().strip()] = field.widget()
    return fields


@pytest.mark.gui
def test_the_annotation_settings_in_naparis_preferences_dialog(registered, qtbot,
                                                                make_napari_viewer):
    """Real clicks and keys in napari's own dialog: the resolution dropdown and the
    download URL reach the plugin's settings file and the RemoteSource it builds."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QPushButton

    viewer = make_napari_viewer(show=True)
    dialog = _preferences_dialog(viewer, qtbot)
    fields = _our_page(dialog, qtbot)
    combo = fields["Annotation resolution (µm)"]
    url = fields["Annotation download URL"]
    assert [combo.itemText(i) for i in range(combo.count())] == ["10", "25", "50", "100"]
    assert combo.currentText() == "25"
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # 25 → 50
    assert combo.currentText() == "50"
    qtbot.mouseClick(url, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(url, "http://127.0.0.1:8766/")
    (ok,) = [b for b in dialog.findChildren(QPushButton) if b.text() == "OK"]
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    p = napari_prefs.current_preferences()
    assert (p.annotation_resolution, p.annotation_base_url) == (50, "http://127.0.0.1:8766")
    saved = registered.read_text()
    assert "annotation_resolution: '50'" in saved
    assert "annotation_base_url: http://127.0.0.1:8766/" in saved
    source = RemoteSource(**p.remote_source_kwargs())
    try:
        assert source.annotation_url == annotation_url(50, "http://127.0.0.1:8766")
    finally:
        source.close()
