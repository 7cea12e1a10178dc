# Two commands do all set-up on a fresh machine:
#   make demo   install into .venv, then stylise the built-in test pattern into demo_out.mp4
#   make test   install into .venv, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STYLE  ?= starry_night
INPUT  ?= testsrc

.PHONY: install demo test bench clean

install: $(VENV)/.installed

# torch>=2.2 in setup.cfg; on the development machines pip takes the local 2.14.1 build.
$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(VENV)/bin/stylecam transcode $(INPUT) demo_out.mp4 --style $(STYLE) --image-size 240 --stats-json demo_stats.json

test: install
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info demo_out.mp4 demo_stats.json
