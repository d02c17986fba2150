# crypto/: DKIM canonicalization, signing, verification and keys
# (library sluice_crypto). SIMD kernels live in crypto/simd/ with their
# own module.mk.
CRYPTO_SRCS := crypto/err.c crypto/canon.c crypto/b64.c crypto/message.c \
	crypto/body.c crypto/key.c crypto/sign.c crypto/sign_batch.c \
	crypto/sign_hlist.c crypto/verify.c \
	crypto/ed25519.c crypto/ed25519_fe.c crypto/ed25519_ge.c crypto/ed25519_sc.c
$(eval $(call add_library,sluice_crypto,$(CRYPTO_SRCS)))

DKIM_TEST_LIBS := sluice_crypto sluice_common
$(eval $(call add_unit_test,test_dkim_canon,tests/unit/test_dkim_canon.c,$(DKIM_TEST_LIBS),-lcrypto))
$(eval $(call add_unit_test,test_dkim_vectors,tests/unit/test_dkim_vectors.c,$(DKIM_TEST_LIBS),-lcrypto))
$(eval $(call add_unit_test,test_dkim_sign,tests/unit/test_dkim_sign.c,$(DKIM_TEST_LIBS),-lcrypto -lpthread))
$(eval $(call add_unit_test,test_dkim_verify,tests/unit/test_dkim_verify.c,$(DKIM_TEST_LIBS),-lcrypto))
$(eval $(call add_unit_test,test_sign_batch,tests/unit/test_sign_batch.c tests/unit/simd_testlib.c,$(DKIM_TEST_LIBS),-lcrypto -lpthread))
$(eval $(call add_unit_test,test_ed25519,tests/unit/test_ed25519.c,$(DKIM_TEST_LIBS),-lcrypto -lpthread))

# The group file gains about a quarter in speed at -O3 (the masked table
# reads are vectorized and the field products inlined).
EXTRA_CFLAGS_crypto_ed25519_ge = -O3
