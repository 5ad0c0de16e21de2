using System.Diagnostics;

namespace Thaw.Tests.Sandboxes;

/// <summary>The zygote's own Python test suite (tests/python), run as part of this one.</summary>
public sealed class ZygoteScriptTests
{
    [Fact]
    public async Task Python_zygote_suite_passes()
    {
        string repo = RepoRoot();
        var psi = new ProcessStartInfo("/usr/bin/python3", ["-m", "unittest", "discover", "-s", Path.Combine(repo, "tests", "python"), "-v"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        // Generous: under the cgroup v2 VM's emulation, beside other test classes, it takes minutes.
        try { await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10)); }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        string report = await stderr;
        Assert.True(process.ExitCode == 0, report + await stdout);
        Assert.Contains("OK", report, StringComparison.Ordinal);
        Assert.DoesNotContain("Ran 0 tests", report, StringComparison.Ordinal);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "tests", "python")) && File.Exists(Path.Combine(dir.FullName, "src", "python", "zygote.py")))
                return dir.FullName;
        throw new DirectoryNotFoundException("repository root (with tests/python) not found above " + AppContext.BaseDirectory);
    }
}
