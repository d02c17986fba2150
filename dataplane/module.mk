# dataplane/: sluiced, the dataplane daemon (workers, kernel network
# backend, SMTP server).
DATAPLANE_LIB_SRCS := $(filter-out dataplane/main.c,$(wildcard dataplane/*.c))

# jemalloc replaces malloc; the sanitizer build keeps the system allocator.
ifeq ($(SAN),1)
DATAPLANE_ALLOC_LIBS :=
else
DATAPLANE_ALLOC_LIBS := -ljemalloc
EXTRA_CFLAGS_dataplane_alloc := -DSL_WITH_JEMALLOC
endif

DATAPLANE_LDLIBS := -luring -lfyaml -lssl -lcrypto -lpthread

$(eval $(call add_library,sluice_dataplane,$(DATAPLANE_LIB_SRCS)))
$(eval $(call add_program,sluiced,dataplane/main.c,sluice_dataplane sluice_config sluice_common,$(DATAPLANE_LDLIBS) $(DATAPLANE_ALLOC_LIBS)))
$(eval $(call add_unit_test,test_smtp_parse,tests/unit/test_smtp_parse.c,sluice_dataplane sluice_config sluice_common,$(DATAPLANE_LDLIBS)))
