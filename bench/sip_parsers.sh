#!/usr/bin/env bash
# bench/sip_parsers.sh: the SIP message models considered for trunkline (its own parser, rsip
# as rsipstack vendors it, ezk-sip-types) through RFC 4475's torture messages and the bridge's
# mutation corpus: messages judged right, headers kept verbatim, panics, parse speed. The
# figures and the choice are in the README ("One SIP message model").
set -euo pipefail
cd "$(dirname "$0")/sip-parsers"
cargo run --release -q
