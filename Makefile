# weft — the two quick-start commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup install run test bench corpus clippy fmt fixtures

# System packages the build and tests need (Debian). Installs only what is missing.
# jackd2 + libjack: JACK MIDI out (midir) and the dummy server the MIDI tests start.
setup:
	@need=""; \
	for p in libasound2-dev pkg-config tmux jackd2 libjack-jackd2-dev python3-jack-client python3-numpy cmake libclang-dev; do \
	  dpkg -s $$p >/dev/null 2>&1 || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
	  echo "installing:$$need"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; fi; \
	fi

# Install `weft` into cargo's bin folder (~/.cargo/bin); it carries its model, SoundFont
# and samples and unpacks them to $XDG_DATA_HOME/weft/<version>/ on first use.
install: setup
	$(CARGO) install --path . --locked

# Build release and start the instrument on scripts/ (cargo runs what it built, wherever
# CARGO_TARGET_DIR puts it).
run: setup
	$(CARGO) run --release -- play scripts --logs samples/logs

# Format check, lints, and every test — with the `link` feature, so that Ableton Link's
# code is linted and tested too (one build: a second, featureless one would rebuild most
# dependencies, because the feature changes how their features unify). Then the vendored
# rustysynth's own tests (its optimised loops against upstream's arithmetic; not a workspace
# member, so `cargo test` above does not run them; release: they are what weft ships).
test: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --features link -- -D warnings
	$(CARGO) test --features link
	$(CARGO) test --release --manifest-path vendor/rustysynth/Cargo.toml --target-dir target/vendor

bench: setup
	$(CARGO) bench

# Fetch and convert the Bach chorales for `weft train` (throwaway Python venv).
corpus:
	bash tools/corpus/fetch_bach.sh

# Regenerate every Strudel oracle fixture (tests/fixtures/strudel/*.json) with node and the
# pinned @strudel packages; the tests read the committed files and need no node.
# gen.mjs writes mini.json (and runs gen_transforms.mjs: transforms.json); gen_harmony.mjs
# writes harmony.json, gen_signals.mjs signals.json. Each generator is seeded: same files.
fixtures:
	sh benches/peers/strudel/setup.sh
	cd benches/peers/strudel && node gen.mjs > /dev/null && node gen_harmony.mjs > /dev/null \
	  && node gen_signals.mjs > /dev/null
