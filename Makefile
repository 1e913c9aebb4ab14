# napari-allen-sync: the two commands a user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench screenshots lint venv clean dist

# The virtual environment with the package (editable), a Qt 6 binding and the test tools.
# The tools are the PEP 735 `dev` group of pyproject.toml: `pip install --group` needs
# pip >= 25.1, hence the upgrade first.
# (set-up messages go to stderr, so that `make bench` prints nothing but JSON on stdout)
$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (the package, a Qt 6 binding, the test tools)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(PY) -m pip install --quiet --upgrade "pip>=25.1" >&2
	@$(PY) -m pip install --quiet -e ".[all]" --group dev >&2
	@touch $(STAMP)

venv: $(STAMP)

# AllenSDK 2.16.2 pins old numpy/pandas, so it gets an environment of its own: the tests
# point AllenSDK's own SynchronizationApi at our server and compare its answers. Only
# what allensdk.api.queries.synchronization_api imports is installed.
ALLENSDK_VENV  := .venv-allensdk
ALLENSDK_STAMP := $(ALLENSDK_VENV)/.installed
$(ALLENSDK_STAMP):
	$(PYTHON) -m venv $(ALLENSDK_VENV)
	$(ALLENSDK_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps allensdk==2.16.2
	$(ALLENSDK_VENV)/bin/pip install --quiet --disable-pip-version-check requests requests-toolbelt simplejson numpy pandas SimpleITK xarray pynwb
	touch $(ALLENSDK_STAMP)

# The oldest supported napari (the floor of the `all` extra in pyproject.toml) with the
# other Qt binding, PySide6: `make test` runs the GUI smoke subset there (`-m smoke`,
# tests/napari/conftest.py names it). Only the package, the server extra and the test
# runner are installed.
FLOOR_VENV   := .venv-floor
FLOOR_STAMP  := $(FLOOR_VENV)/.installed
NAPARI_FLOOR := $(shell sed -n 's/.*"napari\[pyqt6\]>=\([0-9.]*\)".*/\1/p' pyproject.toml)
$(FLOOR_STAMP): pyproject.toml
	@echo "setting up $(FLOOR_VENV) (napari==$(NAPARI_FLOOR) with PySide6)" >&2
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[server]" \
	  "napari[pyside6]==$(NAPARI_FLOOR)" "qtpy>=2.3" "superqt>=0.7" "magicgui>=0.7" \
	  "pytest>=8" "pytest-qt>=4.4" "pytest-xvfb>=3.0" "pytest-timeout>=2.3" "hypothesis>=6.100" \
	  "psutil>=5.9"
	touch $(FLOOR_STAMP)

## demo: napari with the plugin on the embedded demo atlas (headless: a screenshot instead)
demo: $(STAMP)
	@if [ "$$(uname -s)" = "Linux" ] && [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  bash tools/display-deps.sh && \
	  echo "No display: running the demo headless; see screenshots/demo.png" && \
	  xvfb-run -a -s "-screen 0 1600x1000x24" $(VENV)/bin/napari-allen-sync demo --screenshot screenshots/demo.png; \
	else \
	  $(VENV)/bin/napari-allen-sync demo; \
	fi

## test: the whole suite, headless (Xvfb + Mesa through pytest-xvfb), then the GUI smoke
## subset on the oldest supported napari with PySide6
test: $(STAMP) $(ALLENSDK_STAMP) $(FLOOR_STAMP)
	bash tools/display-deps.sh
	QT_API=pyqt6 $(PY) -m pytest
	QT_API=pyside6 $(FLOOR_VENV)/bin/python -m pytest -m smoke tests/napari

## bench: benchmark figures as JSON on stdout (the GUI benchmark needs a display: Xvfb)
bench: $(STAMP)
	@bash tools/display-deps.sh >&2
	@if [ "$$(uname -s)" = "Linux" ] && [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  QT_API=pyqt6 xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m napari_allen_sync.bench; \
	else \
	  QT_API=pyqt6 $(PY) -m napari_allen_sync.bench; \
	fi

## screenshots: regenerate the README's screenshots headless
screenshots: $(STAMP)
	bash tools/display-deps.sh
	QT_API=pyqt6 xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m napari_allen_sync.screenshots screenshots

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

## sdist, wheel: the distributions, in dist/ (tests/test_packaging.py checks their contents)
dist: $(STAMP)
	$(PY) -m build --outdir dist .

clean:
	rm -rf $(VENV) dist build .pytest_cache .hypothesis
