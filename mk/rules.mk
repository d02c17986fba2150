# Macros that modules use in their module.mk.
#
#   $(eval $(call add_library,NAME,SOURCES))
#       static library $(BUILD)/lib/libNAME.a
#   $(eval $(call add_program,NAME,SOURCES,LIBS,LDLIBS))
#       program $(BUILD)/bin/NAME linked with the listed library names
#       (for example "sluice_crypto sluice_common") and system flags
#   $(eval $(call add_unit_test,NAME,SOURCES,LIBS,LDLIBS))
#       cmocka test $(BUILD)/tests/NAME; tests/run.sh runs every one, in
#       the plain build and in the ASan+UBSan build
#   $(eval $(call add_bench,NAME,SOURCES,LIBS,LDLIBS))
#       Google Benchmark binary $(BUILD)/bench/NAME (C++ sources allowed)
#
# Integration tests need no registration: tests/run.sh runs every
# tests/integration/*.sh. Benchmarks add their make target to
# BENCH_TARGETS so that "make bench" runs it.

LIBRARIES     :=
PROGRAMS      :=
UNIT_TESTS    :=
BENCHES       :=
BENCH_TARGETS :=
DEPFILES      :=
DEMO_SCRIPT   ?= tests/demo/demo.sh

obj_of = $(patsubst %.cc,$(BUILD)/obj/%.o,$(patsubst %.c,$(BUILD)/obj/%.o,$(1)))
lib_of = $(foreach l,$(1),$(BUILD)/lib/lib$(l).a)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS_$(subst /,_,$*)) -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

define add_library
$(1)_OBJS := $$(call obj_of,$(2))
DEPFILES += $$($(1)_OBJS:.o=.d)
$$(BUILD)/lib/lib$(1).a: $$($(1)_OBJS)
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$^
LIBRARIES += $$(BUILD)/lib/lib$(1).a
endef

define add_program
$(1)_OBJS := $$(call obj_of,$(2))
DEPFILES += $$($(1)_OBJS:.o=.d)
$$(BUILD)/bin/$(1): $$($(1)_OBJS) $$(call lib_of,$(3))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$(call lib_of,$(3)) $(4)
PROGRAMS += $$(BUILD)/bin/$(1)
endef

define add_unit_test
$(1)_OBJS := $$(call obj_of,$(2))
DEPFILES += $$($(1)_OBJS:.o=.d)
$$(BUILD)/tests/$(1): $$($(1)_OBJS) $$(call lib_of,$(3))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$(call lib_of,$(3)) $(4) -lcmocka
UNIT_TESTS += $$(BUILD)/tests/$(1)
endef

define add_bench
$(1)_OBJS := $$(call obj_of,$(2))
DEPFILES += $$($(1)_OBJS:.o=.d)
$$(BUILD)/bench/$(1): $$($(1)_OBJS) $$(call lib_of,$(3))
	@mkdir -p $$(@D)
	$$(CXX) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$(call lib_of,$(3)) $(4) -lbenchmark -lpthread
BENCHES += $$(BUILD)/bench/$(1)
endef
