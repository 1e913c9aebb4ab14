"""Which optional extra brings a missing module, and how to install it.

The core install carries no napari, Qt or web server. A command that needs one of them
(``demo`` needs napari, ``serve`` uvicorn and Starlette) ends, when it is missing, in a
message saying which ``pip install`` brings it, not in a traceback
(:func:`napari_allen_sync.cli.main` asks :func:`install_hint`).
"""

from __future__ import annotations

__all__ = ["EXTRA_OF_MODULE", "install_hint"]

#: Top-level module → the extra of napari-allen-sync that installs it.
EXTRA_OF_MODULE = {
    "uvicorn": "server",
    "starlette": "server",
    "napari": "all",
    "qtpy": "all",
    "superqt": "all",
    "magicgui": "all",
    "psygnal": "all",
    "vispy": "all",
    "PyQt5": "all",
    "PyQt6": "all",
    "PySide2": "all",
    "PySide6": "all",
}

_WHAT = {"server": "the HTTP server (uvicorn and Starlette)", "all": "napari and a Qt binding"}


def install_hint(exc: ModuleNotFoundError, command: str) -> str | None:
    """The message for a module an optional extra would have installed, else None.

    Parameters
    ----------
    exc : ModuleNotFoundError
        The error raised while running ``command``.
    command : str
        The sub-command (``serve``, ``demo``, ...), named in the message.

    Examples
    --------
    >>> exc = ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
    >>> print(install_hint(exc, "serve"))  # doctest: +NORMALIZE_WHITESPACE
    serve needs the HTTP server (uvicorn and Starlette), which is not installed (no module
    named 'uvicorn'). Install it with:  pip install "napari-allen-sync[server]"
    """
    name = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(name)
    if extra is None:
        return None
    return (
        f"{command} needs {_WHAT[extra]}, which is not installed (no module named "
        f'{name!r}). Install it with:  pip install "napari-allen-sync[{extra}]"'
    )
