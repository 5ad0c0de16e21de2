using System.Diagnostics;

namespace Thaw.Cli.Bench;

/// <summary>Runs the peers' own command-line tools (ip, runc, docker) and installs them from Debian when missing.</summary>
internal static class PeerCommands
{
    /// <summary>Runs a program to its end; throws with its stderr if it fails.</summary>
    public static string Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? stdinFile = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdinFile is not null };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        if (stdinFile is not null)
        {
            using (var input = File.OpenRead(stdinFile))
                input.CopyTo(p.StandardInput.BaseStream);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time");
        }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Result.Trim()}");
        return stdout.Result;
    }

    /// <summary>Times one run of a peer's CLI from Process.Start to its exit, output discarded.</summary>
    public static double Time(string file, IReadOnlyList<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        long start = Stopwatch.GetTimestamp();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({p.ExitCode}): {stderr.Result.Trim()}");
        return ms;
    }

    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Append("/usr/sbin").Append("/sbin")
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>The path of <paramref name="command"/>, installing Debian's <paramref name="package"/> first if it is missing.</summary>
    public static string Require(string command, string package, Action<string> say)
    {
        if (Which(command) is { } found)
            return found;
        say($"installing Debian's {package} (for {command})...");
        var env = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
        Run("apt-get", ["update", "-qq"], env, timeout: TimeSpan.FromMinutes(10));
        Run("apt-get", ["install", "-y", "-qq", package], env, timeout: TimeSpan.FromMinutes(20));
        return Which(command) ?? throw new InvalidOperationException($"{package} installed but {command} is still not on PATH");
    }
}
