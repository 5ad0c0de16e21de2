using System.Diagnostics;

namespace Thaw.Tests.Cli;

/// <summary>`thaw run` as a user types it: the program's output and exit code, clear errors, nothing left.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly string _stateDir = Support.TestInstance.NewTempDir("thaw-test-run-");

    [Fact]
    public async Task Prints_the_programs_output_and_returns_its_exit_code()
    {
        var (code, stdout, stderr) = await Thaw("run", "--", "/bin/sh", "-c", "echo hi; echo oops >&2; exit 3");
        Assert.Equal(3, code);
        Assert.Equal("hi\n", stdout);
        Assert.Equal("oops\n", stderr);
    }

    [Fact]
    public async Task Missing_program_is_a_clear_error()
    {
        var (code, _, stderr) = await Thaw("run", "--", "/no/such/program");
        Assert.Equal(127, code);
        Assert.Equal("thaw: cannot execute /no/such/program: No such file or directory\n", stderr);
    }

    [Fact]
    public async Task Missing_code_dir_is_a_clear_error()
    {
        var (code, _, stderr) = await Thaw("run", "--code", "/no/such/dir", "--", "/bin/true");
        Assert.Equal(1, code);
        Assert.Contains("code dir '/no/such/dir' does not exist", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Limits_and_timeout_are_reported()
    {
        var (code, _, stderr) = await Thaw("run", "--memory", "32M", "--", "/usr/bin/python3", "-c", "x = bytearray(256 << 20)");
        Assert.Equal(137, code);
        Assert.Contains("out of memory", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await Thaw("run", "--timeout", "200ms", "--", "/bin/sleep", "30");
        Assert.Equal(124, code);
        Assert.Contains("timeout", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await Thaw("run", "--memory", "lots", "--", "/bin/true");
        Assert.Equal(1, code);
        Assert.Contains("'lots' is not a size", stderr, StringComparison.Ordinal);
    }

    private async Task<(int Code, string Stdout, string Stderr)> Thaw(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "thaw.dll"));
        psi.ArgumentList.Add(args[0]);
        psi.ArgumentList.Add("--state-dir");
        psi.ArgumentList.Add(_stateDir);
        foreach (var a in args.Skip(1))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (p.ExitCode, await stdout, await stderr);
    }

    public void Dispose()
    {
        Assert.Empty(Support.LeakCensus.MountsUnder(_stateDir));
        Directory.Delete(_stateDir, recursive: true);
    }
}
