using Thaw.Cli.Commands;
using Thaw.Tests.Support;

namespace Thaw.Tests.Cli;

/// <summary>`thaw install-service`: the unit it writes is one systemd accepts without a word of complaint.</summary>
public sealed class InstallServiceCommandTests : IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-unit-");

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

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
