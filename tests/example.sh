#!/bin/sh
# example.sh BUILD_DIR - build the bundled synthetic example and run the main job on it.
set -eu
build=${1:-build}
"$build/daemon/fltblame" --help
