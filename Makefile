# juggle - a make-like batch job orchestrator.
#
#   make            build build/juggle
#   make demo       install what is missing (as root), build, run the nightly example offline
#   make test       every test, with the normal build and under ASan+UBSan, then
#                   again under valgrind on VALGRIND_BACKENDS (see below)
#   make valgrind   every test under valgrind's memcheck, on every backend
#   make asan       build build-asan/juggle with AddressSanitizer and UBSan
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       install the Debian packages juggle needs to build and test (as root);
#                   tools/deps build|demo|test installs one set (tools/deps --list SET)

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
PKGS := inih libcurl libarchive libxml-2.0 libxslt libexslt libuv libcrypto jansson zlib
# Compiled against, not linked: loaded on first use by engine/lazy/ (which
# says why: they were most of juggle's start-up time).
LAZY_PKGS := libcurl libarchive libxml-2.0 libxslt libexslt
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(filter-out $(LAZY_PKGS),$(PKGS)) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 -I. $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS = $(PKG_LIBS) -ldl -lm -lpthread

ENGINE_SRC := $(wildcard engine/*.c engine/*/*.c)
JOBS_SRC := $(wildcard jobs/*.c jobs/*/*.c)
CMD_SRC := $(wildcard cmd/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
JOBS_OBJ := $(JOBS_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all deps demo test test-fast asan valgrind install uninstall clean fuzz fuzz-build bench

FUZZ_TARGETS := load words state result download

all: $(BUILD)/juggle $(BUILD)/unit-tests $(FUZZ_TARGETS:%=$(BUILD)/fuzz-replay-%)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/juggle: $(CMD_OBJ) $(ENGINE_OBJ) $(JOBS_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The unit tests link the engine and the job kinds without cmd/. Their
# runner's list of groups is made from the UNIT_GROUP(name, ...) lines of
# tests/unit/test_*.c (remade when a file comes or goes): a new test file
# is enough.
$(BUILD)/unit-tests: $(UNIT_OBJ) $(ENGINE_OBJ) $(JOBS_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka 2>/dev/null)

$(BUILD)/unit-groups.h: tests/unit $(sort $(filter tests/unit/test_%.c,$(UNIT_SRC)))
	@mkdir -p $(dir $@)
	sed -n 's/^UNIT_GROUP(\([A-Za-z0-9_]*\),.*/UNIT_GROUP_ENTRY(\1)/p' \
		$(filter %.c,$^) >$@.tmp && mv $@.tmp $@

$(BUILD)/tests/unit/main.o: $(BUILD)/unit-groups.h
$(BUILD)/tests/unit/main.o: ALL_CFLAGS += -I$(BUILD)

deps:
	@tools/deps test

# Fuzzing with libFuzzer (clang): each target runs FUZZ_SECONDS, starting
# from fuzz/seeds/NAME and the graphs in tests/ and examples/ (fuzz/run);
# crashes land in fuzz/crashes/ and become regression inputs there. A
# target links the engine and the job kinds whole; fuzz_download reaches the
# download kind's parsers through jobs/download/download-internal.h.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(BUILD)/fuzz_%: fuzz/fuzz_%.c $(ENGINE_OBJ) $(JOBS_OBJ)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.o,$^) $(LDLIBS)

# The same targets without libFuzzer, in every build: fuzz/replay.c feeds
# them files, so the test suite replays fuzz/crashes/ and fuzz/seeds/.
$(BUILD)/fuzz-replay-%: fuzz/fuzz_%.c fuzz/replay.c $(ENGINE_OBJ) $(JOBS_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) $(filter %.o,$^) $(LDLIBS)

fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" \
		$(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

fuzz: deps fuzz-build
	@fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

asan:
	$(MAKE) BUILD=build-asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" all

# Every test, three times: the normal build, under the sanitizers, then the
# normal build under valgrind's memcheck (tests/valgrind: no invalid access,
# no uninitialised value, no block lost at exit). The valgrind pass is cut
# to fit CI (2 CPUs): the unit tests, the fuzz replayers and the end-to-end
# tests, the parameterised ones on VALGRIND_BACKENDS only - auto (the event
# loop, with threads for cpu jobs) and processes (forked workers, which stay
# under memcheck) - and without the tests marked @valgrind_slow in tests/e2e
# (the Slurm tests, the DocBook and man-page examples, the 53 bad graphs...),
# each minutes under memcheck. Measured on 2 shared CPUs (load ~10): this
# pass took 8.5 min of CPU (11 min wall; ~5 on idle CPUs), where the whole
# suite on every backend takes 28 min of CPU (34 wall). `make valgrind`
# runs them all.
VALGRIND_BACKENDS ?= auto,processes
test: deps
	@$(MAKE) --no-print-directory all asan
	@tests/run --build build --build build-asan --valgrind-build build \
		--valgrind-backends $(VALGRIND_BACKENDS) --valgrind-quick

# Every test under valgrind, on every backend built (half an hour on 2 CPUs).
valgrind: deps
	@$(MAKE) --no-print-directory all
	@tests/run --valgrind --build build

# The normal build only, for a quick loop while editing.
test-fast: all
	@tests/run --build build

# Every benchmark in bench/, one after the other, then one table of juggle's
# figures next to its peers' and its goals (bench/all; about ten minutes, on
# a quiet machine). Never part of `make test`: timings are not tests.
bench: deps all
	@bench/all --juggle $(BUILD)/juggle

# The demo needs juggle's build and its own example's tools, not the test
# tools (Slurm, nginx, a JDK, clang, valgrind). Its juggle takes its jobs
# from `make -jN`'s jobserver ('+' hands it over).
demo:
	@tools/deps demo
	@$(MAKE) --no-print-directory $(BUILD)/juggle
	+@examples/demo.sh $(BUILD)/juggle

install: $(BUILD)/juggle
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5
	install -m 755 $(BUILD)/juggle $(DESTDIR)$(PREFIX)/bin/juggle
	for m in man/*.1; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/ || true; done
	for m in man/*.5; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man5/ || true; done
	if [ -f tools/juggle.bash ]; then install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions && \
		install -m 644 tools/juggle.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/juggle; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/juggle $(DESTDIR)$(PREFIX)/share/man/man1/juggle.1 \
		$(DESTDIR)$(PREFIX)/share/man/man5/juggle.ini.5 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/juggle

clean:
	rm -rf build build-asan build-fuzz

# Header dependencies of the build being made, one .d beside each object
# at whatever depth (asan and fuzz builds are recursive makes with their
# own BUILD).
-include $(ENGINE_OBJ:.o=.d) $(JOBS_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) \
	$(wildcard $(BUILD)/*.d)
