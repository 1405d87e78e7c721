#!/usr/bin/env bash
# A records unit has the state archives office witness its ledger, end to end:
# key exchange, two cosigning rounds, an auditor's checks, and a refused replay.
# See docs/WITNESS.md.
#
# Usage: examples/witness-demo.sh
#   BLOTTER=path/to/blotter WITNESS=path/to/witness   use these binaries instead of
#                                                    building them (cargo build --release)
#   KEEP=1                                           keep the work folder
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${BLOTTER:-}" || -z "${WITNESS:-}" ]]; then
    echo "== building blotter and examples/witness.rs (cargo build --release)"
    (cd "$ROOT" && cargo build --release -q --bin blotter --example witness)
    TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
    BLOTTER=${BLOTTER:-$TARGET/release/blotter}
    WITNESS=${WITNESS:-$TARGET/release/examples/witness}
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/witness-demo.XXXXXX")
cleanup() {
    if [[ "${KEEP:-}" == 1 ]]; then
        echo "== kept the work folder $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

L=$WORK/ledger                                  # the records unit's ledger
ARCHIVES=$WORK/archives                         # the archives office's machine
WNAME=archives.example.gov/witness
mkdir -p "$ARCHIVES"

say() { printf '\n== %s\n' "$*"; }
# Prints a command on fd 3 (the script's stderr, whatever the command's own redirections,
# so that $(run ...) captures only the command's output), then runs it.
exec 3>&2
run() {
    printf '$ %s\n' "$*" | sed -e "s#$BLOTTER#blotter#g" -e "s#$WITNESS#witness#g" -e "s#$WORK/##g" >&3
    "$@"
}

say "records unit: a demo ledger (30 records)"
run "$BLOTTER" demo "$L" --records 30 >/dev/null 2>&1
LOG_VKEY=$(run "$BLOTTER" --ledger "$L" key ledger)
echo "ledger verifier key, sent to the archives office: $LOG_VKEY"

say "archives office: make the witness key, send its verifier key to the records unit"
VKEY=$(run "$WITNESS" new --name "$WNAME" --key "$ARCHIVES/witness.key" 2>/dev/null)
echo "witness verifier key: $VKEY"

say "records unit: an admin registers the witness"
run "$BLOTTER" --ledger "$L" --key "$L/keys/admin.key" witness register "$VKEY"
run "$BLOTTER" --ledger "$L" witness list

say "round 1: the witness has cosigned nothing yet, so the request is 'old 0' with no proof"
run "$BLOTTER" --ledger "$L" checkpoint >/dev/null
"$BLOTTER" --ledger "$L" proof consistency --from 0 >"$WORK/request1.txt"
cat "$WORK/request1.txt"
OLD=$(sed -n 4p "$WORK/request1.txt")          # line 4: the checkpoint's tree size
run "$WITNESS" cosign --key "$ARCHIVES/witness.key" --name "$WNAME" --log-key "$LOG_VKEY" \
    --state "$ARCHIVES/state" <"$WORK/request1.txt" >"$WORK/cosigned1.txt"
run "$BLOTTER" --ledger "$L" checkpoint cosign "$WORK/cosigned1.txt"
run "$BLOTTER" --ledger "$L" checkpoint show

say "the records unit keeps working: a clerk enters a record (a checkpoint is signed after it)"
printf '{"summary":"vehicle break-in, 400 block of Elm St"}\n' >"$WORK/report.json"
run "$BLOTTER" --ledger "$L" --key "$L/keys/clerk.key" record create --type incident \
    --payload "$WORK/report.json"

say "round 2: a consistency proof from size $OLD, the size the witness last cosigned"
run "$BLOTTER" --ledger "$L" proof consistency --from "$OLD" >"$WORK/request2.txt"
cat "$WORK/request2.txt"
run "$WITNESS" cosign --key "$ARCHIVES/witness.key" --name "$WNAME" --log-key "$LOG_VKEY" \
    --state "$ARCHIVES/state" <"$WORK/request2.txt" >"$WORK/cosigned2.txt"
run "$BLOTTER" --ledger "$L" checkpoint cosign "$WORK/cosigned2.txt"
run "$BLOTTER" --ledger "$L" checkpoint show
run "$BLOTTER" --ledger "$L" checkpoint list

say "an auditor, with only the two verifier keys and the files"
run "$WITNESS" verify --witness-key "$VKEY" --log-key "$LOG_VKEY" <"$WORK/cosigned2.txt"
run "$BLOTTER" audit consistency --ledger-key "$LOG_VKEY" --old "$WORK/cosigned1.txt" \
    --new "$WORK/cosigned2.txt" --proof "$WORK/request2.txt"

say "a replayed round-1 request is refused (exit 1): the witness has moved on"
set +e
run "$WITNESS" cosign --key "$ARCHIVES/witness.key" --name "$WNAME" --log-key "$LOG_VKEY" \
    --state "$ARCHIVES/state" <"$WORK/request1.txt" >/dev/null
rc=$?
set -e
if [[ $rc -ne 1 ]]; then
    echo "expected the witness to refuse with exit 1, got $rc" >&2
    exit 1
fi
echo "(refused as expected)"

say "done: the ledger's latest checkpoint carries the archives office's cosignature"
