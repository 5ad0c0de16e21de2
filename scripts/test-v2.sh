#!/usr/bin/env bash
# Runs Thaw's tests on a pure cgroup v2 host: inside the cgroup v2 VM (../shared/vm/cgroup2-vm,
# Debian's 6.1 kernel with cgroup_no_v1=all and an rshared /, as systemd leaves it), against the
# host's build (the VM has no network for NuGet or apt: build first, e.g. with ./test.sh).
# Ends with "N passed, M failed" and exits non-zero on any failure (.ci/run adds the counts up).
#
#   scripts/test-v2.sh [--all] [--filter EXPR] [--out DIR] [--timeout S]
#
# Without --filter or --all it runs the CI subset below. docs/hosts.md says how long each part
# takes in the VM and why the subset leaves out what it does.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The CI subset (docs/hosts.md has each class's time in the VM): the kernel layer, the pools, the
# sandboxes and the zygote's Python suite (cgroups, mounts, namespaces: what differs on v2), the
# Python runtime, the service tests that deploy, schedule, freeze, evict, kill, account memory and
# restart on the cgroups, and `thaw run`. Left out, since their code paths do not
# depend on the cgroup version and ./test.sh runs them on the v1 host: the install and import
# caches, Morula, parked children and scale (the slowest under emulation; parked children's burst
# test also counts claims per second, which emulation spreads out), the packages and fault-burst
# service tests (their calls reach the client's 60 s HTTP timeout under emulation), `thaw serve`
# as a process (beside the rest, its start outran the test's wait under emulation), the client
# commands and the benches.
ci_filter='(FullyQualifiedName~Thaw.Tests.Linux.|FullyQualifiedName~Thaw.Tests.Resources.|FullyQualifiedName~Thaw.Tests.Sandboxes.'\
'|FullyQualifiedName~Thaw.Tests.Runtimes.PythonRuntimeTests|FullyQualifiedName~Thaw.Tests.Service.ChaosTests'\
'|FullyQualifiedName~Thaw.Tests.Service.RestartTests|FullyQualifiedName~Thaw.Tests.Service.EvictionTests'\
'|FullyQualifiedName~Thaw.Tests.Service.MemoryAccountingTests|FullyQualifiedName~Thaw.Tests.Service.ApiTests'\
'|FullyQualifiedName~Thaw.Tests.Service.ExecFunctionTests|FullyQualifiedName~Thaw.Tests.Service.SchedulingTests'\
'|FullyQualifiedName~Thaw.Tests.Service.ZygoteMemoryTests|FullyQualifiedName~Thaw.Tests.Service.DeployTests'\
'|FullyQualifiedName~Thaw.Tests.Service.DelegationTests|FullyQualifiedName~Thaw.Tests.Cli.RunCommandTests)'\
'&FullyQualifiedName!~Thaw.Tests.Sandboxes.ScaleTests'

filter=$ci_filter out="$here/.vm-out/test-v2" timeout=2400 inside=
while (($#)); do
    case $1 in
        --all) filter=''; shift ;;
        --filter) filter=$2; shift 2 ;;
        --out) out=$(realpath -m -- "$2"); shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --inside) inside=1; shift ;;
        *) sed -n '2,10p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
    esac
done

source "$here/scripts/setup.sh"
tests_dll="$here/.build/bin/Thaw.Tests/release/Thaw.Tests.dll"

if [[ -z $inside ]]; then
    vm=${THAW_CGROUP2_VM:-$here/../shared/vm/cgroup2-vm}
    if [[ ! -x $vm ]]; then
        echo "test-v2: no cgroup v2 VM at $vm (set THAW_CGROUP2_VM)"
        echo "0 passed, 1 failed"
        exit 1
    fi
    if [[ ! -f $tests_dll ]]; then
        echo "test-v2: no build at $tests_dll: build on the host first (./test.sh or dotnet build -c Release)"
        echo "0 passed, 1 failed"
        exit 1
    fi
    rm -rf "$out"
    mkdir -p "$out"
    # The VM's only writable share is --out; the command runs in this directory (read-only view).
    cd "$here" || exit 1
    "$vm" --mem 6G --timeout "$timeout" --out "$out" -- \
        bash scripts/test-v2.sh --inside --out "$out" --filter "$filter"
    status=$?
    if ((status == 124 || status == 125)); then
        echo "test-v2: the VM $( ((status == 124)) && echo "ran past ${timeout} s" || echo failed)"
        tail -1 "$out/summary" 2>/dev/null | grep -q passed || echo "0 passed, 1 failed"
    fi
    exit "$status"
fi

# Inside the VM. A systemd host enables these in the root's cgroup.subtree_control; the VM's starts empty.
echo "+cpuset +cpu +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
# /run/netns is iproute2's, made once by the first `ip netns` of a boot, not a leak.
mount_points() { awk '$5 != "/run/netns" {print $5}' /proc/self/mountinfo | sort; }
mount_points >/tmp/test-v2-mounts-before
mounts_before=$(wc -l </tmp/test-v2-mounts-before)
started=$(date +%s)
# The test dll directly, not the project: no MSBuild evaluation, which costs over a minute here.
dotnet test "$tests_dll" ${filter:+--filter "$filter"} \
    --logger "trx;LogFileName=tests.trx" --results-directory "$out" \
    --logger "console;verbosity=normal" -- RunConfiguration.TestSessionTimeout=3000000
status=$?
echo "test-v2: dotnet test took $(( $(date +%s) - started )) s in the VM"

if ! thaw_trx_counts "$out/tests.trx"; then
    echo "test-v2: no test results were written (the test host failed)"
fi

# The VM runs nothing else, so anything left is the tests' (or Thaw's) leak; /proc must still be
# there (a mount propagated from a sandbox once buried it).
mounts_after=$(mount_points 2>/dev/null | wc -l)
test_names='^(thaw[tcrksphd][0-9a-f]|thawrun[0-9]|thaw-test-)'
cgroups=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d 2>/dev/null | xargs -r -n1 basename | grep -cE "$test_names" || true)
links=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -cE "$test_names" || true)
zygotes=$(pgrep -fc 'zygote\.py' || true)
if [[ ! -e /proc/self/mountinfo ]] || (( mounts_after != mounts_before || cgroups + links + zygotes > 0 )); then
    echo "test-v2: the tests left mounts $mounts_before -> $mounts_after, $cgroups cgroups, $links links and $zygotes zygote processes behind"
    mount_points 2>/dev/null | comm -13 /tmp/test-v2-mounts-before - | sed 's/^/  mount /'
    find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d 2>/dev/null | while read -r d; do
        basename "$d" | grep -qE "$test_names" && echo "  cgroup $d"
    done
    failed=$(( failed + 1 ))
fi

echo "${passed:-0} passed, ${failed} failed" | tee "$out/summary"
if (( status != 0 || failed > 0 )); then exit 1; fi
