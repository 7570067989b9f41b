#!/bin/sh
# Prints the version written in pyproject.toml, the one place it is kept.
sed -n 's/^version = "\(.*\)"$/\1/p' "$(dirname "$0")/../pyproject.toml" | head -n 1
