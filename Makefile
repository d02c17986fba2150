# sluice: top-level build.
#
# Non-recursive make. Each module describes itself in its own module.mk
# (or DIR/SUBDIR/module.mk) with the macros from mk/rules.mk, so modules
# never edit this file to add
# sources, programs, tests or benchmarks.
#
#   make            build libraries and programs into $(BUILD)/bin
#   make deps       install the Debian packages listed under deps/
#   make test       deps, build, unit tests (plain and ASan+UBSan), integration
#   make demo       deps, build, run the demo campaign
#   make bench      deps, build, run every benchmark (bench-* targets)
#   make clean      remove $(BUILD)
#
# BUILD selects the output folder, so that several builds (the sanitizer
# build, or parallel developers) never share object files.

BUILD ?= build
SAN   ?= 0
JOBS  ?= $(shell nproc)

CC      ?= gcc
CXX     ?= g++
AR      ?= ar
CSTD     = -std=gnu17
WARN     = -Wall -Wextra -Werror
OPT     ?= -O2 -g
CPPFLAGS = -I. -D_GNU_SOURCE
CFLAGS   = $(CSTD) $(OPT) $(WARN) -fno-strict-aliasing -MMD -MP
CXXFLAGS = -std=gnu++17 $(OPT) -Wall -Wextra -Werror -MMD -MP
LDFLAGS  =

ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS  += $(SANFLAGS)
CXXFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif

.DEFAULT_GOAL := all

include mk/rules.mk
include $(sort $(wildcard */module.mk */*/module.mk))

.PHONY: all deps test unit-tests demo bench clean
all: $(LIBRARIES) $(PROGRAMS)

unit-tests: $(UNIT_TESTS)

deps:
	@bash mk/deps.sh

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all unit-tests
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=$(BUILD)/asan SAN=1 all unit-tests
	@BUILD=$(BUILD) bash tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@BUILD=$(BUILD) bash $(DEMO_SCRIPT)

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all $(BENCHES)
	@for t in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

clean:
	rm -rf $(BUILD)

-include $(DEPFILES)
