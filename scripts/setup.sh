# Shared by ./thaw and ./test.sh: what a fresh Debian 12 machine needs, and the incremental build.
# Sourced, not run.

thaw_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

thaw_require_root() {
    if [[ $EUID -ne 0 ]]; then
        echo "thaw: must run as root (it creates network namespaces, mounts and cgroups)" >&2
        exit 1
    fi
}

# Debian packages Thaw uses at run time and in tests:
#   iproute2   - `ip` and `bridge`: the fresh-creation peer in `thaw bench pools`, and test checks
#   util-linux - nsenter, to look inside pooled namespaces from tests
#   python3    - the zygote server and function runtime (and test helpers)
#   iptables   - NAT for bridge-mode egress (once per bridge, never per sandbox)
#   gcc, libc6-dev - build libthawspawn (the exec runtime's native spawn) and the startup floor
#   libseccomp2 - compiles the sandboxes' seccomp filter (loaded by thawd as libseccomp.so.2)
#   python3-numpy, python3-pil - system packages Python functions use as they are (import cache
#                tests, the numpy and image-resize examples, `thaw bench python`)
#   python3-pip - the install cache's installer (pip --target, run in a sandbox)
#   wrk        - the HTTP bench's load generator (`thaw bench floor`, `thaw bench http`)
thaw_install_packages() {
    local missing=()
    command -v ip >/dev/null || missing+=(iproute2)
    command -v bridge >/dev/null || missing+=(iproute2)
    command -v nsenter >/dev/null || missing+=(util-linux)
    command -v python3 >/dev/null || missing+=(python3)
    [[ -x /usr/sbin/iptables || -x /sbin/iptables ]] || missing+=(iptables)
    command -v gcc >/dev/null || missing+=(gcc)
    [[ $(ldconfig -p 2>/dev/null) == *"libseccomp.so.2 "* ]] || missing+=(libseccomp2)
    [[ -f "$(gcc -print-file-name=libc.a 2>/dev/null)" ]] || missing+=(libc6-dev)
    [[ -d /usr/lib/python3/dist-packages/numpy ]] || missing+=(python3-numpy)
    [[ -d /usr/lib/python3/dist-packages/PIL ]] || missing+=(python3-pil)
    [[ -d /usr/lib/python3/dist-packages/pip ]] || missing+=(python3-pip)
    command -v wrk >/dev/null || missing+=(wrk)
    if (( ${#missing[@]} )); then
        local unique
        unique=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
        echo "thaw: installing Debian packages: $unique(needed for namespaces, tests, benches and the Python runtime)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $unique >&2
    fi
    if ! command -v dotnet >/dev/null; then
        echo "thaw: the .NET 10 SDK (dotnet) is not on PATH; install it (see global.json for the version)" >&2
        exit 1
    fi
    export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
}

# Builds the CLI in Release when any source is newer than the last build.
thaw_build_cli() {
    local out="$thaw_root/.build/bin/Thaw.Cli/release/thaw"
    local stamp="$thaw_root/.build/cli.stamp"
    if [[ -x "$out" && -f "$stamp" ]] && [[ -z "$(find "$thaw_root/src" "$thaw_root"/*.props "$thaw_root/global.json" -newer "$stamp" -type f -print -quit)" ]]; then
        return 0
    fi
    echo "thaw: building (first use or sources changed)..." >&2
    mkdir -p "$thaw_root/.build"
    if ! dotnet build "$thaw_root/src/Thaw.Cli/Thaw.Cli.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >"$thaw_root/.build/build-log.txt" 2>&1; then
        cat "$thaw_root/.build/build-log.txt" >&2
        echo "thaw: build failed" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
}

# Reads a trx file's counts: sets passed and failed. Tests that never ran (a crashed test host)
# count as failed; skipped ones (the reason is shown: a kernel feature this host lacks, see
# docs/hosts.md) do not. No trx at all is one failure.
thaw_trx_counts() {
    local trx=$1 counters total executed skipped
    if [[ ! -f $trx ]]; then
        passed=0 failed=1
        return 1
    fi
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
    passed=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
    failed=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
    total=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
    executed=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
    skipped=$(grep -c '<UnitTestResult [^>]*outcome="NotExecuted"' "$trx" || true)
    passed=${passed:-0}
    failed=$(( ${failed:-0} + ${total:-0} - ${executed:-0} - skipped ))
}
