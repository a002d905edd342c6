#!/usr/bin/env bash
# Fuzzes one target for a bounded time under AFL++: fuzz/run.sh csv|model|arch|image SECONDS
# Builds the harness, instruments a copy of our assemblies (and CsvHelper) with SharpFuzz, then
# runs afl-fuzz with a heap cap and an address-space cap (unbounded allocation is a crash) and a
# per-input timeout (a hang). Findings go to fuzz/findings/TARGET/default/{crashes,hangs}.
# Needs: apt-get install -y afl++; SharpFuzz.CommandLine 2.3.0 (installed into fuzz/.tools on first run).
set -euo pipefail
target=${1:?usage: fuzz/run.sh csv|model|arch|image SECONDS}
seconds=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
heap_limit=${FUZZ_HEAP_LIMIT:-0x40000000}   # 1 GiB of managed heap (a spec may build 50 M parameters: 0.8 GB with gradients and copies)
address_space_mb=${FUZZ_MEMORY_MB:-3072}    # afl-fuzz -m: the .NET runtime needs ~1.5 GiB of address space to start
timeout_ms=${FUZZ_TIMEOUT_MS:-2000}

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install -y afl++" >&2; exit 1; }
tools=$here/.tools
[ -x "$tools/sharpfuzz" ] || dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0

out=$here/out/$target
rm -rf "$out"
mkdir -p "$out"
nice -n 10 dotnet publish "$here/Convnet.Fuzz.csproj" -c Release -o "$out/bin" --nologo -v quiet
for dll in Convnet.dll Convnet.Cli.dll CsvHelper.dll; do
  "$tools/sharpfuzz" "$out/bin/$dll"
done

findings=$here/findings/$target
rm -rf "$findings"
mkdir -p "$(dirname "$findings")"
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export AFL_NO_UI=1 DOTNET_GCHeapHardLimit=$heap_limit DOTNET_TieredPGO=0
dict=()
[ -f "$here/dict/$target.dict" ] && dict=(-x "$here/dict/$target.dict")
nice -n 10 afl-fuzz -i "$here/seeds/$target" -o "$findings" "${dict[@]}" -m "$address_space_mb" -t "$timeout_ms" -V "$seconds" \
  -- dotnet "$out/bin/Convnet.Fuzz.dll" "$target" || true

stats=$findings/default/fuzzer_stats
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs)' "$stats"
# The instrumented assemblies need afl-fuzz's shared memory: replay with an uninstrumented build.
echo "replay the findings: dotnet build -c Release $here/Convnet.Fuzz.csproj && DOTNET_GCHeapHardLimit=$heap_limit dotnet $here/bin/Release/net10.0/Convnet.Fuzz.dll $target $findings/default/crashes/id* $findings/default/hangs/id*"
