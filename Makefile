# tripl — PGXS build plus the project's entry points:
#   make            build the extension
#   make install    install it into the PostgreSQL found by pg_config
#   make test       install what is missing, build, install, run every suite
#   make demo       install what is missing, build, install, run the demo
#   make bench      install what is missing, build, install, run the benchmark
#   make layers     build, then check src/ for include/call circles
#   make valgrind   build, install, run the regress and TAP suites with the
#                   servers under valgrind; fails on an invalid read or write
#                   (also: make test VALGRIND=1, every suite)

EXTENSION = tripl
EXTVERSION = 0.2
MODULE_big = tripl

# The pure cores (no PostgreSQL types) are also linked into the unit tests.
# They live in src/core/ and include nothing outside it (make layers checks).
PURE_SRCS = $(addprefix src/core/,core.c grid.c compose.c detect_stats.c detect_core.c detect_trend.c detect_incident.c detect_ratio.c detect_run.c detect_forecast.c stl.c order.c corebuf.c \
	cron.c template.c uuid5.c alert_core.c netguard.c mail.c engine.c engine_image.c engine_result.c engine_window.c plot.c ddsketch.c hll.c derived.c)
# The PostgreSQL side, bottom layer first (src/README.md)
PG_SRCS = $(addprefix src/,core_pg.c guc.c spiutil.c subxact.c privilege.c runlog.c \
	sqlguard.c grid_pg.c aggsql.c userquery.c distsrc.c fnargs.c defs.c engine_pg.c \
	defcheck.c catalog.c catalog_metric.c defio.c collect_due.c collect_slot.c collect_derived.c collect.c monitor.c series.c forecast.c plot_pg.c alert_defs.c alert_msg.c alert.c deliver.c tick.c \
	worker_shmem.c worker.c init.c)
OBJS = $(PURE_SRCS:.c=.o) $(PG_SRCS:.c=.o)

# sql/tripl.sql is the install script of the current version, installed as
# tripl--$(EXTVERSION).sql; each release before it keeps its update script
# (and 0.1 its install script, for the upgrade test and for old dumps).
DATA_built = sql/tripl--$(EXTVERSION).sql
DATA = sql/tripl--0.1.sql sql/tripl--0.1--0.2.sql

# pg_regress suites: sql/<name>.sql with expected/<name>.out
REGRESS = setup sql_guard fact_tables event_sources metrics privileges security collect alerting detect forecast views engine tick_many aggregations derived definitions_io calendar rolling incidents
REGRESS_OPTS = --inputdir=. --load-extension=plpgsql

PG_CONFIG ?= pg_config
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter  # PostgreSQL 15 headers have unused parameters
# Export only what PostgreSQL looks up (PG_FUNCTION_INFO_V1 functions, the
# magic block, _PG_init, worker entry points), as PostgreSQL 16 does: our
# generic names (cron_parse, sha1, ...) must not interpose with, or be
# interposed by, other libraries loaded with RTLD_GLOBAL (e.g. libuuid).
PG_CPPFLAGS = -fvisibility=hidden '-DPGDLLEXPORT=__attribute__((visibility("default")))'
SHLIB_LINK = -lcurl

# No LLVM bitcode: JIT inlining of tripl is not worth a clang dependency.
with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
override with_llvm = no
endif

# PGXS tracks no header dependencies: a changed header rebuilds every object
$(OBJS): $(wildcard src/*.h src/core/*.h)

UNIT_CFLAGS = -std=gnu99 -O2 -g -Wall -Wextra -Werror -Wmissing-prototypes \
	-Wpointer-arith -Wdeclaration-after-statement -Werror=vla \
	-Wimplicit-fallthrough=3 -fwrapv -fno-strict-aliasing -Isrc/core -Itest/unit
UNIT_TESTS = $(patsubst %,test/unit/bin/%_test,grid compose detect detect_noise detect_ratio stl cron template uuid5 alert netguard engine engine_agg engine_ship engine_window plot sketch derived mail)

test/unit/bin/%: test/unit/%.c $(PURE_SRCS) $(wildcard src/core/*.h) test/unit/unit.h
	@mkdir -p test/unit/bin
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(PURE_SRCS) -lm

sql/tripl--$(EXTVERSION).sql: sql/tripl.sql
	cp $< $@

.PHONY: unit test demo bench deps valgrind layers
unit: $(UNIT_TESTS)

# The layers of src/: no include or call circle, src/core/ fenced off from
# PostgreSQL (test/lib/layers.py; the unit suite runs it too)
layers: $(OBJS)
	python3 test/lib/layers.py --levels

deps:
	bash test/lib/deps.sh

test: deps
	$(MAKE) all
	$(MAKE) install
	$(MAKE) unit
	VALGRIND=$(VALGRIND) bash test/lib/run_tests.sh

# The servers under valgrind (memcheck), not part of plain make test;
# SUITES="regress" make valgrind for a subset
VALGRIND ?= 0
valgrind:
	$(MAKE) all
	$(MAKE) install
	VALGRIND=1 SUITES="$${SUITES:-regress tap}" bash test/lib/run_tests.sh

demo: deps
	$(MAKE) all
	$(MAKE) install
	bash test/demo/demo.sh

bench: deps
	$(MAKE) all
	$(MAKE) install
	bash test/bench/run.sh

# Used by test/lib/run_tests.sh to learn the pg_regress suite list.
print-regress:
	@echo $(REGRESS)
