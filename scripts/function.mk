# Sample-app functions: their *.py files plus requirements.txt if one exists (usually none:
# boto3 comes with the runtime and tracing comes from the layer).
include $(dir $(lastword $(MAKEFILE_LIST)))lambda-build.mk

# $(call build-function,<source dir>)
define build-function
	mkdir -p $(ARTIFACTS_DIR)
	cp $(1)/*.py $(ARTIFACTS_DIR)/
	if [ -f $(1)/requirements.txt ]; then \
		$(PYTHON) -m pip install --quiet --no-compile --target $(ARTIFACTS_DIR) \
			$(PIP_TARGET_FLAGS) -r $(1)/requirements.txt; fi
	$(call prune,$(ARTIFACTS_DIR))
endef
