using System.Diagnostics;

namespace Thaw.Tests.Support;

/// <summary>A program run to its end, as a user's shell would: its exit code and output.</summary>
internal static class CommandRuns
{
    /// <summary>The thaw CLI the tests were built with.</summary>
    public static string ThawDll => Path.Combine(AppContext.BaseDirectory, "thaw.dll");

    /// <summary>`thaw ARGS` in a process of its own, with <paramref name="environment"/> added to the test's.</summary>
    public static Task<(int Code, string Stdout, string Stderr)> ThawAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        RunAsync("dotnet", [ThawDll, .. args], environment);

    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (process.ExitCode, await stdout, await stderr);
    }
}
