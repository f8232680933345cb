# The two commands of the README:
#   make serve   set up (first time) and run s3gw on the embedded default (./data, 127.0.0.1:8080)
#   make test    set up (first time) and run the whole test suite
DATA ?= ./data
ADDRESS ?= 127.0.0.1:8080

.PHONY: serve test setup
setup:
	@scripts/setup.sh

serve: setup
	s3gw serve --data $(DATA) --address $(ADDRESS)

test: setup
	@scripts/test.sh
