# dataplane/: sluiced, the dataplane daemon (workers, kernel network
# backend, SMTP server), and sluice-spool-dump for tests.
DATAPLANE_SRCS := dataplane/accept.c dataplane/alloc.c dataplane/auth.c dataplane/bufring.c dataplane/ctl_link.c \
	dataplane/http_body.c dataplane/http_inject.c dataplane/http_keys.c dataplane/http_parse.c \
	dataplane/http_server.c dataplane/logq.c dataplane/pool.c \
	dataplane/smtp_accept.c dataplane/smtp_commands.c dataplane/smtp_parse.c \
	dataplane/smtp_server.c dataplane/store.c dataplane/tls.c dataplane/uring.c \
	dataplane/worker.c

# jemalloc replaces malloc; the sanitizer build keeps the system allocator.
ifeq ($(SAN),1)
DATAPLANE_ALLOC_LIBS :=
else
DATAPLANE_ALLOC_LIBS := -ljemalloc
EXTRA_CFLAGS_dataplane_alloc := -DSL_WITH_JEMALLOC
endif

DATAPLANE_LIBS := sluice_fleet sluice_deliver sluice_dataplane sluice_ctllink sluice_throttle sluice_queue \
	sluice_crypto sluice_config sluice_common
DATAPLANE_LDLIBS := -lhiredis -lcares -luring -lisal -lfyaml -lssl -lcrypto -lpthread -ljansson -lrt -lcurl

$(eval $(call add_library,sluice_dataplane,$(DATAPLANE_SRCS)))
$(eval $(call add_program,sluiced,dataplane/main.c,$(DATAPLANE_LIBS),$(DATAPLANE_LDLIBS) $(DATAPLANE_ALLOC_LIBS)))
$(eval $(call add_program,sluice-spool-dump,dataplane/spool_dump.c,sluice_queue sluice_config sluice_common,$(DATAPLANE_LDLIBS)))
$(eval $(call add_unit_test,test_smtp_parse,tests/unit/test_smtp_parse.c,$(DATAPLANE_LIBS),$(DATAPLANE_LDLIBS)))
$(eval $(call add_unit_test,test_http_parse,tests/unit/test_http_parse.c,$(DATAPLANE_LIBS),$(DATAPLANE_LDLIBS)))
$(eval $(call add_unit_test,test_http_body,tests/unit/test_http_body.c,$(DATAPLANE_LIBS),$(DATAPLANE_LDLIBS)))
