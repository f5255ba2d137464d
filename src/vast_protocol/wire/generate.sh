#!/usr/bin/env bash
# Regenerates generated.rs from the .fbs files (needs `cargo install planus-cli --locked`, 1.3.0).
# The output is committed so a fresh checkout builds with cargo alone.
set -euo pipefail
cd "$(dirname "$0")"
planus rust -o generated.rs tabular.fbs computeir.fbs
