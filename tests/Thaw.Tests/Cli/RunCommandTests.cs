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

    /// <summary>
    /// thawd: the sandbox is thaw run's own child, killed by the zygote's crash net (the connection
    /// closed without goodbye); helper: the zygote's child, killed with the zygote's other sandboxes.
    /// </summary>
    [Theory]
    [InlineData("thawd")]
    [InlineData("helper")]
    public async Task A_SIGKILLed_thaw_run_takes_its_zygote_and_sandbox_along_and_the_next_run_sweeps_the_rest(string via)
    {
        // A sleep no other test runs (tests run in parallel; another's `sleep 60` would match too).
        string duration = "60." + Random.Shared.Next(100_000, 999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var first = Start("run", "--via", via, "--", "/bin/sh", "-c", "echo started; exec sleep " + duration);
        List<int> zygotes;
        int sleeper;
        try
        {
            string? line = await first.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal("started", line);
            zygotes = ChildrenNamed(first.Id, "python3");
            Assert.Single(zygotes);
            sleeper = Support.LeakCensus.Run("pgrep", "-f", $"^sleep {duration}$").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Single();
            Assert.Equal(via == "thawd" ? first.Id : zygotes[0], Stat(sleeper)?.Parent);
        }
        finally
        {
            first.Kill(); // SIGKILL: thawd's cleanup never runs
            await first.WaitForExitAsync();
        }

        // The zygote sees its connection close, kills its sandboxes and exits.
        await Support.Wait.UntilAsync(() => !Directory.Exists($"/proc/{zygotes[0]}") && !Runs(sleeper), TimeSpan.FromSeconds(20), "zygote and sandbox gone");
        Assert.NotEmpty(Support.LeakCensus.MountsUnder(_stateDir)); // the pools' mounts stay until a sweep

        var (code, stdout, _) = await Thaw("run", "--", "/bin/sh", "-c", "echo again");
        Assert.Equal(0, code);
        Assert.Equal("again\n", stdout);
    }

    private static List<int> ChildrenNamed(int parent, string name) =>
        [.. Directory.GetDirectories("/proc").Select(d => Path.GetFileName(d)).Where(d => d.All(char.IsAsciiDigit)).Select(int.Parse)
            .Where(pid => Stat(pid) is { } stat && stat.Comm == name && stat.Parent == parent)];

    private static (string Comm, int Parent)? Stat(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int open = stat.IndexOf('(', StringComparison.Ordinal), close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            return (stat[(open + 1)..close], int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (IOException) { return null; }
    }

    private static bool Runs(int pid) => Stat(pid) is not null && File.ReadAllText($"/proc/{pid}/stat") is var s && s[(s.LastIndexOf(')') + 2)] is not ('Z' or 'X');

    private Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "thaw.dll"));
        psi.ArgumentList.Add(args[0]);
        psi.ArgumentList.Add("--state-dir");
        psi.ArgumentList.Add(_stateDir);
        foreach (var a in args.Skip(1))
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private async Task<(int Code, string Stdout, string Stderr)> Thaw(params string[] args)
    {
        using var p = Start(args);
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
