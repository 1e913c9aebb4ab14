"""The plugin's preferences as napari settings (napari ≥ 0.9 ``configurations``).

The manifest (``napari.yaml``) declares the configuration ``allensync``; napari shows it
in its Preferences dialog, keeps it in ``<napari config dir>/napari-allen-sync.yaml``
and exposes it as ``napari.settings.get_plugin_settings('napari-allen-sync').allensync``.
This module turns it into a validated :class:`~napari_allen_sync.preferences.Preferences`
and never fails: on a napari without plugin settings (< 0.9), or when the plugin's
settings are not there (plugin not discovered, disabled), the defaults are used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..preferences import CONFIGURATION_KEY, InvalidPreferenceError, Preferences

__all__ = ["PLUGIN_NAME", "current_preferences", "on_change"]

log = logging.getLogger(__name__)

#: The npe2 plugin name (``name`` in ``napari.yaml``).
PLUGIN_NAME = "napari-allen-sync"


def _settings_group():
    """The evented ``allensync`` settings model, or None when napari has none for us."""
    try:
        from napari import settings as napari_settings

        get_plugin_settings = napari_settings.get_plugin_settings
        group = getattr(get_plugin_settings(PLUGIN_NAME), CONFIGURATION_KEY)
    except (ImportError, KeyError, AttributeError) as exc:
        log.debug("napari plugin settings unavailable (%s: %s); using the default "
                  "preferences", type(exc).__name__, exc)
        return None
    except Exception as exc:  # preferences must never break the plugin
        log.warning("cannot read the napari plugin settings (%s: %s); using the default "
                    "preferences", type(exc).__name__, exc)
        return None
    return group


def _warn(error: InvalidPreferenceError) -> None:
    default = getattr(Preferences(), error.setting)
    message = (f"napari-allen-sync: invalid setting in Preferences ▸ Allen Brain Atlas API: "
               f"{error}. Using the default {default!r} instead.")
    log.warning(message)
    try:
        from napari.utils.notifications import show_warning

        show_warning(message)
    except Exception as exc:  # a notification must not break anything
        log.debug("cannot show a napari notification: %s", exc)


def current_preferences() -> Preferences:
    """The preferences set in napari's Preferences dialog, validated.

    Returns
    -------
    Preferences
        napari's plugin settings when this napari has them (≥ 0.9) and the plugin is
        registered, else ``Preferences()`` (logged at debug level). A stored value that
        cannot be used (e.g. a URL without ``http://``) becomes a napari warning
        notification naming the setting, and that setting takes its default.

    Notes
    -----
    Never raises.
    """
    group = _settings_group()
    if group is None:
        return Preferences()
    values = {}
    for name in Preferences.names():
        try:
            values[name] = getattr(group, name)
        except AttributeError:  # a settings model from another version of the manifest
            log.debug("napari plugin settings lack %r; using its default", name)
    try:
        return Preferences.from_mapping(values, on_invalid=_warn)
    except Exception as exc:  # never raise (from_mapping should not either)
        log.warning("unusable napari plugin settings (%s); using the default preferences", exc)
        return Preferences()


def on_change(callback: Callable[[Preferences], object]) -> Callable[[], None]:
    """Call ``callback(current_preferences())`` whenever a preference changes.

    Parameters
    ----------
    callback : callable
        Receives the new :class:`~napari_allen_sync.preferences.Preferences`. Called
        once per changed setting (napari's Preferences dialog may change several at
        once, e.g. on "Restore defaults").

    Returns
    -------
    callable
        ``disconnect()``, which stops the calls (idempotent). Without napari plugin
        settings nothing is connected and ``disconnect`` does nothing.
    """
    group = _settings_group()
    if group is None:
        return lambda: None

    def handler(event=None):
        callback(current_preferences())

    emitters = []
    for name in Preferences.names():
        emitter = getattr(group.events, name, None)
        if emitter is None:
            continue
        emitter.connect(handler)
        emitters.append(emitter)

    def disconnect() -> None:
        while emitters:
            emitters.pop().disconnect(handler)

    return disconnect
