#!/usr/bin/env bash
# Spool crash test in "make test": 50 SIGKILLs of a writer at random
# moments and 6 rounds of damaged segment tails (tests/crash/spool_crash.sh).
KILLS=50 TAIL_ROUNDS=6 exec bash "$(dirname "$0")/../crash/spool_crash.sh"
