# images/: appliance images. Nothing here is built by "make" or run by
# "make test": both targets download Debian packages and take long.
#
#   make image ARCH=amd64|arm64       Debian 12 image in $(BUILD)/image/ARCH
#   make image-test ARCH=amd64|arm64  boot it under qemu and check the daemons
#
# For arm64 the programs must be cross-built first into IMAGE_BIN (the
# default $(BUILD)/arm64/bin), which needs the :arm64 development packages.

ARCH ?= amd64
IMAGE_DIR = $(BUILD)/image/$(ARCH)
IMAGE_BIN ?= $(if $(filter amd64,$(ARCH)),$(BUILD)/bin,$(BUILD)/$(ARCH)/bin)
IMAGE_DEPS = mmdebstrap e2fsprogs file binutils \
	$(if $(filter arm64,$(ARCH)),qemu-user-static binfmt-support)
IMAGE_TEST_DEPS = $(if $(filter arm64,$(ARCH)),qemu-system-arm,qemu-system-x86)

.PHONY: image image-test
image: deps
	apt-get install -y --no-install-recommends $(IMAGE_DEPS)
	$(if $(filter amd64,$(ARCH)),@$(MAKE) --no-print-directory -j$(JOBS) all)
	bash images/image/build-image.sh $(ARCH) $(IMAGE_DIR) $(IMAGE_BIN)

image-test:
	apt-get install -y --no-install-recommends $(IMAGE_TEST_DEPS)
	bash images/image/boot-test.sh $(ARCH) $(IMAGE_DIR)
