#!/bin/sh
# Regenerates the inputs of the model-card and timeline snapshot tests
# (tests/fixtures/report/demo_*): a 30-day demo store (drift from day 15), its audit trail,
# versions and alias history. After regenerating, bless the snapshots:
#   MLCYCLE_BLESS=1 cargo test --test report
set -eu
cd "$(dirname "$0")/.."
cargo build --bin mlcycle
store=$(mktemp -d)
M=target/debug/mlcycle
$M demo --store "$store/s" --days 30 --drift-day 15 --seed 2026 > /dev/null
out=tests/fixtures/report
$M audit export --store "$store/s" --format jsonl > $out/demo_audit.jsonl
$M models versions credit-default --store "$store/s" --format json > $out/demo_versions.json
$M models alias history credit-default --store "$store/s" --format json > $out/demo_aliases.json
rm -rf "$store"
