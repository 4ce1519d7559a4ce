#!/usr/bin/env bash
# Guards the per-ISA build against the SIGILL trap: code compiled with -mavx2/-mavx512f must never
# be linked in for a baseline caller.
#  1. Baseline objects (core + scalar kernels) contain no ymm/zmm instruction.
#  2. Wide-ISA objects define no weak/COMDAT symbol outside their own namespace (an inline or
#     template helper the linker could pick for a baseline caller).
# Usage: check-isa-isolation.sh OBJDUMP NM "baseline;objects" "wide;isa;objects"
set -euo pipefail
objdump=$1 nm=$2
IFS=';' read -r -a baseline <<<"$3"
IFS=';' read -r -a wide <<<"$4"
status=0
for o in "${baseline[@]}"; do
  if "$objdump" -d --no-show-raw-insn "$o" | grep -qE '%[yz]mm'; then
    echo "baseline object uses ymm/zmm registers: $o"; status=1
  fi
done
for o in "${wide[@]}"; do
  leaked=$("$nm" -C --defined-only "$o" | awk '$2 ~ /^[WVuw]$/' |
           grep -vE 'sepconv::(avx2|avx512)::|DW\.ref\.__gxx_personality_v0' || true)
  if [ -n "$leaked" ]; then
    echo "weak symbols outside the ISA namespace in $o:"; echo "$leaked"; status=1
  fi
done
[ $status = 0 ] && echo "ISA isolation: ${#baseline[@]} baseline and ${#wide[@]} wide-ISA objects checked"
exit $status
