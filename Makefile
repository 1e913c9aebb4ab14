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

## demo: napari with the plugin on the embedded demo atlas (headless: a screenshot instead)
demo: $(STAMP)
	@if [ "$$(uname -s)" = "Linux" ] && [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  bash tools/display-deps.sh && \
	  echo "No display: running the demo headless; see screenshots/demo.png" && \
	  xvfb-run -a -s "-screen 0 1600x1000x24" $(VENV)/bin/napari-allen-sync demo --screenshot screenshots/demo.png; \
	else \
	  $(VENV)/bin/napari-allen-sync demo; \
	fi

## test: the whole suite, headless (Xvfb + Mesa through pytest-xvfb)
test: $(STAMP) $(ALLENSDK_STAMP)
	bash tools/display-deps.sh
	QT_API=pyqt6 $(PY) -m pytest

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
