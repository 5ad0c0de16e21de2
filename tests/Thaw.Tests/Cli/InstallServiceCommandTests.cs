using System.Net;
using System.Text;
using Thaw.Cli.Commands;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Processes;
using Thaw.Tests.Service;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli;

/// <summary>`thaw install-service`: the unit it writes is one systemd accepts without a word of complaint.</summary>
public sealed class InstallServiceCommandTests : IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-unit-");
    private readonly Thaw.Resources.ThawNaming _naming = TestInstance.NewNaming("thawu");
    private readonly ServeProcesses _serve;

    public InstallServiceCommandTests() => _serve = new ServeProcesses(_naming);

    /// <summary>
    /// systemd-analyze verify runs offline (PID 1 need not be systemd) but exits 0 on unknown keys and
    /// bad values, only warning: a unit passes when it exits 0 and says nothing, and the same check is
    /// shown to catch a broken unit.
    /// </summary>
    [FactNeeding("systemd-analyze")]
    public async Task The_unit_it_writes_passes_systemd_analyze_verify_and_a_broken_one_does_not()
    {
        string config = Path.Combine(_dir, "thawd.toml");
        File.WriteAllText(config, "[api]\nlisten = \"127.0.0.1:8080\"\n");
        string units = Directory.CreateDirectory(Path.Combine(_dir, "system")).FullName;
        var (code, stdout, stderr) = await CommandRuns.ThawAsync(["install-service", "--unit-dir", units, "--config", config]);
        Assert.True(code == 0, stderr);
        string path = Path.Combine(units, "thawd.service");
        Assert.StartsWith($"wrote {path}", stdout, StringComparison.Ordinal);
        string unit = File.ReadAllText(path);

        // The apphost by its absolute path (not the ./thaw wrapper, not dotnet), with the config file.
        string apphost = Path.Combine(AppContext.BaseDirectory, "thaw");
        Assert.Contains($"\nExecStart={apphost} serve --config {config}\n", unit, StringComparison.Ordinal);
        foreach (var line in new[] { "Delegate=yes", "KillMode=mixed", "Restart=on-failure", "TimeoutStopSec=90", "LimitNOFILE=1048576", "TasksMax=infinity", "NoNewPrivileges=yes", "ProtectHome=read-only" })
            Assert.Contains("\n" + line + "\n", unit, StringComparison.Ordinal);
        Assert.Equal((0, ""), await VerifyAsync(path));

        // --dry-run prints the same unit.
        var dry = await CommandRuns.ThawAsync(["install-service", "--unit-dir", units, "--config", config, "--dry-run"]);
        Assert.Equal((0, unit), (dry.Code, dry.Stdout));

        // Paths that need quoting and escaping (a space, systemd's % and $) still verify.
        string odd = Directory.CreateDirectory(Path.Combine(_dir, "odd dir %n $HOME")).FullName;
        File.CreateSymbolicLink(Path.Combine(odd, "thaw"), apphost);
        string oddUnit = Path.Combine(odd, "thawd.service");
        File.WriteAllText(oddUnit, InstallServiceCommand.Unit(Path.Combine(odd, "thaw"), "/usr/share/dotnet", Path.Combine(odd, "thawd.toml")));
        Assert.Equal((0, ""), await VerifyAsync(oddUnit));

        // The check fails on a broken unit: a misspelt key, a bad value, a missing program.
        string broken = Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, "broken")).FullName, "thawd.service");
        File.WriteAllText(broken, unit.Replace("KillMode=mixed", "KillMode=mixd", StringComparison.Ordinal));
        Assert.Contains("kill mode", (await VerifyAsync(broken)).Output, StringComparison.Ordinal);
        File.WriteAllText(broken, unit.Replace("Delegate=yes", "Delegat=yes", StringComparison.Ordinal));
        Assert.Contains("Unknown key", (await VerifyAsync(broken)).Output, StringComparison.Ordinal);
        File.WriteAllText(broken, unit.Replace($"ExecStart={apphost}", "ExecStart=/no/such/thaw", StringComparison.Ordinal));
        Assert.NotEqual(0, (await VerifyAsync(broken)).Code);
    }

    /// <summary>
    /// The unit's file-system hardening, imitated where PID 1 is not systemd: a mount namespace in
    /// which ProtectSystem=full's and ProtectHome=read-only's directories are read-only, and
    /// no_new_privs (NoNewPrivileges=yes). thawd under them deploys and serves a Python and an exec
    /// function and stops leaving nothing. (RestrictSUIDSGID and RestrictRealtime are seccomp filters
    /// systemd installs; they are not imitated here.)
    /// </summary>
    [Fact]
    public async Task Thawd_works_under_the_units_read_only_system_and_home_and_no_new_privileges()
    {
        string unit = InstallServiceCommand.Unit("/usr/bin/thaw", "/usr/share/dotnet", null);
        Assert.Contains("\nProtectSystem=full\n", unit, StringComparison.Ordinal);
        Assert.Contains("\nProtectHome=read-only\n", unit, StringComparison.Ordinal);
        Assert.Contains("\nNoNewPrivileges=yes\n", unit, StringComparison.Ordinal);
        const string Harden = """
            set -e
            for dir in /usr /boot /efi /etc /home /root /run/user; do
                if [ -d "$dir" ]; then mount --bind "$dir" "$dir"; mount -o remount,bind,ro "$dir"; fi
            done
            touch /etc/thaw-hardening-probe 2>/dev/null && { echo "/etc is writable"; exit 1; }
            exec setpriv --no-new-privs -- "$@"
            """;
        var (serve, url) = await _serve.StartWithAsync(
            ["serve", "--name", _naming.Name, "--state-dir", _naming.StateDir, "--listen", "127.0.0.1:0", "--pool-size", "2", "--log-level", "warning"],
            wrapper: ["unshare", "--mount", "--propagation", "slave", "--", "/bin/sh", "-c", Harden, "harden"]);
        Assert.Equal("1", File.ReadAllLines($"/proc/{serve.Id}/status").Single(l => l.StartsWith("NoNewPrivs:", StringComparison.Ordinal)).Split('\t')[1]);
        Assert.NotEqual(File.ReadAllText("/proc/self/mountinfo").Length, File.ReadAllText($"/proc/{serve.Id}/mountinfo").Length);

        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        foreach (var (name, toml, files) in new[]
        {
            ("hardened", "name = \"hardened\"\n", ("f.py", "def f(event):\n    return 'ok'\n")),
            ("hardened-exec", "name = \"hardened-exec\"\nruntime = \"exec\"\ncommand = [\"/bin/sh\", \"run.sh\"]\n", ("run.sh", "cat >/dev/null; echo '\"ok\"'\n")),
        })
        {
            using (var deployed = await http.PutAsync($"v1/functions/{name}", new ByteArrayContent(ThawdInstance.TarGz(_serve.FunctionDir(toml, files)))))
                Assert.True(deployed.StatusCode == HttpStatusCode.Created, await deployed.Content.ReadAsStringAsync());
            using var call = await http.PostAsync($"v1/functions/{name}/invoke", new StringContent("{}", Encoding.UTF8));
            Assert.Equal((HttpStatusCode.OK, "\"ok\""), (call.StatusCode, (await call.Content.ReadAsStringAsync()).Trim()));
        }

        Assert.True(Signals.Terminate(serve.Id));
        await serve.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, serve.ExitCode);
        Assert.Empty(_serve.Zygotes());
        Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, _naming.Name)));
    }

    [Fact]
    public async Task A_config_file_thawd_would_refuse_is_refused_at_install()
    {
        string config = Path.Combine(_dir, "thawd.toml");
        File.WriteAllText(config, "[api]\nlisen = \"127.0.0.1:8080\"\n");
        var (code, _, stderr) = await CommandRuns.ThawAsync(["install-service", "--unit-dir", _dir, "--config", config]);
        Assert.Equal(1, code);
        Assert.StartsWith($"thaw: {config}: api.lisen: unknown key 'lisen' in [api]", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "thawd.service")));
    }

    private static async Task<(int Code, string Output)> VerifyAsync(string unit)
    {
        var (code, stdout, stderr) = await CommandRuns.RunAsync("systemd-analyze", ["verify", "--man=no", unit]);
        return (code, (stdout + stderr).Trim());
    }

    public void Dispose()
    {
        _serve.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
