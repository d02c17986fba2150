# crypto/: DKIM canonicalization, signing, verification and keys
# (library sluice_crypto). SIMD kernels live in crypto/simd/ with their
# own module.mk.
CRYPTO_SRCS := crypto/err.c crypto/canon.c crypto/b64.c crypto/message.c \
	crypto/body.c crypto/key.c crypto/sign.c crypto/verify.c
$(eval $(call add_library,sluice_crypto,$(CRYPTO_SRCS)))
