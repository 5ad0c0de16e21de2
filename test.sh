#!/usr/bin/env bash
# Runs every test for real, as root, against the kernel. Ends with "N passed, M failed" and exits
# non-zero on any failure (CI reads that line).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/scripts/setup.sh"
thaw_require_root
thaw_install_packages

results="$here/.build/test-results"
rm -rf "$results"
mkdir -p "$results"
dotnet test "$here/tests/Thaw.Tests/Thaw.Tests.csproj" -c Release -nologo \
    --logger "trx;LogFileName=tests.trx" --results-directory "$results" \
    --logger "console;verbosity=normal" -- RunConfiguration.TestSessionTimeout=3000000
status=$?

if ! thaw_trx_counts "$results/tests.trx"; then
    echo "test.sh: no test results were written (the build or the test host failed)"
fi

# Nothing Thaw's tests made may outlive them. Test instances are named thawt/thawc/thawr/thawk/thaws/thawp/thawh +
# hex (tests/Thaw.Tests/Support/TestInstance.cs; thaws for sandbox tests) and keep their state under /tmp/thaw-test-*.
test_names='^(thaw[tcrksphd][0-9a-f]|thawrun[0-9])'
leaks=$(awk '{print $5}' /proc/self/mountinfo | grep -c '^/tmp/thaw-test-' || true)
links=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -cE "$test_names" || true)
cgroups=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d 2>/dev/null | xargs -r -n1 basename | grep -cE "$test_names" || true)
rules=$(for t in nat filter; do iptables -w -t "$t" -S 2>/dev/null; done | grep -cE '"?thaw:thaw[tcrksphd][0-9a-f]' || true)
# Zygotes exit when thawd's connection closes; one still running is a leaked process.
zygotes=$(pgrep -fc 'zygote\.py' || true)
if (( leaks + links + cgroups + rules + zygotes > 0 )); then
    echo "test.sh: tests left $leaks mounts, $links links, $cgroups cgroups, $rules iptables rules and $zygotes zygote processes behind"
    failed=$(( failed + 1 ))
fi

echo "${passed:-0} passed, ${failed} failed"
if (( status != 0 || failed > 0 )); then exit 1; fi
