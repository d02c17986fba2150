# ctl/: sluicectl (and later sluice-ctld). Each command is ctl/cmd_*.c.
SLUICECTL_SRCS := ctl/sluicectl.c $(wildcard ctl/cmd_*.c)
$(eval $(call add_program,sluicectl,$(SLUICECTL_SRCS),sluice_ctl sluice_crypto sluice_common,-lcrypto -lresolv -ljansson -lfyaml))
