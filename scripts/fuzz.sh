#!/usr/bin/env bash
# fuzz.sh - build every libFuzzer target in tests/fuzz/ with clang (ASan +
# UBSan + libFuzzer) and run each for a short while; exit non-zero, naming
# the target, if any input crashes, leaks, trips a sanitizer or breaks a
# target's own checks.
#
#   scripts/fuzz.sh                 every tests/fuzz/fuzz_*.c
#   scripts/fuzz.sh fuzz_csv ...    only these
#   FUZZ_SECONDS=60 scripts/fuzz.sh longer runs (default 15 s per target)
#
# Installs nothing (scripts/setup.sh installs clang).  Not part of CMake: the
# project's sources (core/, core/op/, dag/, net/wire.c, and the protobuf-c
# code generated into build-fuzz/gen/proto) are compiled once into
# build-fuzz/obj with the fuzzing flags, incrementally (make, with header
# dependencies), and each target links against all of them.
#
# Corpora: each target starts from its seeds in tests/fuzz/corpus/<target>/
# (fuzz_dag also from tests/dag/) and keeps what it finds in
# build-fuzz/corpus/<target>/, so later runs go deeper.  A crashing input is
# saved as build-fuzz/artifacts/<target>-crash-*; reproduce with
#   build-fuzz/bin/<target> <that file>
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER="${FUZZ_SECONDS:-15}"
OUT=build-fuzz
CC="${FUZZ_CC:-clang}"
jobs="$(nproc)"

if ! command -v "$CC" >/dev/null; then
  echo "fuzz: $CC not found (scripts/setup.sh installs clang)" >&2
  exit 1
fi

if (($#)); then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/fuzz_*.c; do
    t="$(basename "$f" .c)"
    targets+=("$t")
  done
fi

# Generated protobuf code, as the CMake build makes it.
mkdir -p "$OUT/gen/proto" "$OUT/bin" "$OUT/artifacts"
if [ ! -f "$OUT/gen/proto/millrace.pb-c.c" ] || [ proto/millrace.proto -nt "$OUT/gen/proto/millrace.pb-c.c" ]; then
  protoc-c --proto_path=proto --c_out="$OUT/gen/proto" proto/millrace.proto
fi

echo "== fuzz: building ${targets[*]} with $CC"
make -s -j"$jobs" -f - OUT="$OUT" CC="$CC" TARGETS="${targets[*]}" <<'EOF'
FLAGS := -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -std=gnu11 -I. -I$(OUT)/gen
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
LIB_SRC := $(wildcard core/*.c core/op/*.c dag/*.c) net/wire.c $(OUT)/gen/proto/millrace.pb-c.c
LIB_OBJ := $(patsubst %.c,$(OUT)/obj/%.o,$(patsubst $(OUT)/%,%,$(LIB_SRC)))
LIBS := -lprotobuf-c -lzstd -lyaml -lm -lpthread

all: $(addprefix $(OUT)/bin/,$(TARGETS))

$(OUT)/obj/gen/%.o: $(OUT)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(FLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# The targets themselves are ours: warnings are errors there.
$(OUT)/bin/%: tests/fuzz/%.c $(LIB_OBJ)
	$(CC) $(FLAGS) $(SAN) -fsanitize=fuzzer -Wall -Wextra -Werror -MMD -MP -MF $(OUT)/obj/$*.d \
	  $< $(LIB_OBJ) $(LIBS) -o $@

-include $(LIB_OBJ:.o=.d) $(addprefix $(OUT)/obj/,$(addsuffix .d,$(TARGETS)))
EOF

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

failed=()
for t in "${targets[@]}"; do
  corpus="$OUT/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds+=("tests/fuzz/corpus/$t")
  if [ "$t" = fuzz_dag ]; then
    seeds+=(tests/dag/valid tests/dag/invalid)
  fi
  extra=()
  [ -f "tests/fuzz/corpus/$t.dict" ] && extra+=("-dict=tests/fuzz/corpus/$t.dict")
  log="$OUT/$t.log"
  stamp="$OUT/artifacts/.$t.start"
  touch "$stamp"
  echo "== fuzz: $t for ${SECONDS_PER}s (log $log)"
  if "$OUT/bin/$t" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$OUT/artifacts/$t-" -print_final_stats=1 "${extra[@]}" \
      "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
    echo "   ok: ${runs:-?} inputs, corpus $(find "$corpus" -type f | wc -l) files"
  else
    echo "!! fuzz: $t FAILED; the end of $log:" >&2
    tail -n 40 "$log" >&2
    find "$OUT/artifacts" -name "$t-*" -newer "$stamp" | sed 's/^/   reproducer: /' >&2
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "!! fuzz: failed targets: ${failed[*]}" >&2
  exit 1
fi
echo "== fuzz: all targets clean"
