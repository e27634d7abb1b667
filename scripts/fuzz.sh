#!/usr/bin/env bash
# fuzz.sh - build every libFuzzer target in tests/fuzz/ with clang (ASan +
# UBSan + libFuzzer) and run each for a short while; exit non-zero, naming
# the target, if a target does not build or any input crashes, leaks, trips
# a sanitizer or breaks a target's own checks.
#
#   scripts/fuzz.sh                 every tests/fuzz/fuzz_*.c
#   scripts/fuzz.sh fuzz_csv ...    only these
#   FUZZ_SECONDS=60 scripts/fuzz.sh longer runs (default 15 s per target)
#
# Installs nothing (scripts/setup.sh installs clang).  Not part of CMake: the
# project's sources a target names in its "// fuzz-sources:" line (folders
# such as core or dag, single files such as net/wire.c, and "proto" for the
# protobuf-c code generated into build-fuzz/gen/proto with the helpers in
# proto/*.c; without the line,
# everything but the ZeroMQ transport) are compiled into build-fuzz/obj with
# the fuzzing flags, incrementally (make, with header dependencies), and
# linked into build-fuzz/bin/<target>.  Each target builds on its own, so a
# module that is mid-change only stops the targets that use it.
#
# Corpora: each target starts from its seeds in tests/fuzz/corpus/<target>/
# (fuzz_dag also from tests/dag/; a tests/fuzz/corpus/<target>.dict is
# passed as -dict) and keeps what it finds in build-fuzz/corpus/<target>/, so
# later runs go deeper.  A crashing input is saved as
# build-fuzz/artifacts/<target>-crash-*; reproduce it with
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
    targets+=("$(basename "$f" .c)")
  done
fi

# Generated protobuf code, as the CMake build makes it.
mkdir -p "$OUT/gen/proto" "$OUT/bin" "$OUT/artifacts"
if [ ! -f "$OUT/gen/proto/millrace.pb-c.c" ] || [ proto/millrace.proto -nt "$OUT/gen/proto/millrace.pb-c.c" ]; then
  protoc-c --proto_path=proto --c_out="$OUT/gen/proto" proto/millrace.proto
fi

# The .c files target $1 links, from its "// fuzz-sources:" line.
sources_of() {
  local line s out=()
  line="$(sed -n 's|^// fuzz-sources:||p' "tests/fuzz/$1.c" | head -n 1)"
  [ -n "$line" ] || line="core core/op core/formats dag net/wire.c proto"
  for s in $line; do
    case "$s" in
      proto) out+=("$OUT/gen/proto/millrace.pb-c.c" proto/*.c) ;;
      *.c) out+=("$s") ;;
      *) out+=("$s"/*.c) ;;
    esac
  done
  echo "${out[@]}"
}

# One make run per target; FLAGS match the sanitizer build of CMake.
MAKEFILE='
FLAGS := -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -std=gnu11 -I. -I$(OUT)/gen -I/usr/include/libxml2
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
OBJ := $(patsubst %.c,$(OUT)/obj/%.o,$(patsubst $(OUT)/%,%,$(SRC)))
LIBS := -lprotobuf-c -lzstd -lsnappy -lz -lyaml -lcjson -lpcre2-8 -lyajl -lutf8proc -lnettle -lxml2 -lm -lpthread

all: $(OUT)/bin/$(T)

$(OUT)/obj/gen/%.o: $(OUT)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(FLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# The targets are ours: warnings are errors there.
$(OUT)/bin/$(T): tests/fuzz/$(T).c $(OBJ)
	$(CC) $(FLAGS) $(SAN) -fsanitize=fuzzer -Wall -Wextra -Werror -MMD -MP -MF $(OUT)/obj/$(T).d $< $(OBJ) $(LIBS) -o $@

-include $(OBJ:.o=.d) $(OUT)/obj/$(T).d
'

failed=()
built=()
for t in "${targets[@]}"; do
  if [ ! -f "tests/fuzz/$t.c" ]; then
    echo "!! fuzz: no tests/fuzz/$t.c" >&2
    failed+=("$t")
    continue
  fi
  echo "== fuzz: building $t with $CC"
  if printf '%s' "$MAKEFILE" | make -s -j"$jobs" -f - OUT="$OUT" CC="$CC" T="$t" SRC="$(sources_of "$t")"; then
    built+=("$t")
  else
    echo "!! fuzz: $t does not build" >&2
    failed+=("$t")
  fi
done

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

for t in "${built[@]}"; do
  corpus="$OUT/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds+=("tests/fuzz/corpus/$t")
  [ "$t" = fuzz_dag ] && seeds+=(tests/dag/valid tests/dag/invalid)
  extra=()
  [ -f "tests/fuzz/corpus/$t.dict" ] && extra+=("-dict=tests/fuzz/corpus/$t.dict")
  log="$OUT/$t.log"
  stamp="$OUT/artifacts/.$t.start"
  touch "$stamp"
  echo "== fuzz: $t for ${SECONDS_PER}s (log $log)"
  if "$OUT/bin/$t" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$OUT/artifacts/$t-" -print_final_stats=1 "${extra[@]}" \
      "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
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
