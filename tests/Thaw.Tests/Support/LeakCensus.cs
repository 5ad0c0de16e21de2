using System.Diagnostics;
using Thaw.Linux.Netlink;

namespace Thaw.Tests.Support;

/// <summary>Counts what an instance left in the kernel: the numbers every test class asserts are zero.</summary>
public static class LeakCensus
{
    public static IReadOnlyList<string> MountsUnder(string dir)
    {
        string prefix = Path.TrimEndingDirectorySeparator(dir);
        return File.ReadLines("/proc/self/mountinfo")
            .Select(l => l.Split(' ')[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(m => m == prefix || m.StartsWith(prefix + "/", StringComparison.Ordinal))
            .ToList();
    }

    public static IReadOnlyList<string> LinksStartingWith(string prefix)
    {
        using var netlink = new NetlinkSocket();
        return netlink.ListLinks().Select(l => l.Name).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
    }

    public static int OpenFds() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

    /// <summary>Threads of this process whose network namespace differs from the main thread's.</summary>
    public static IReadOnlyList<string> ThreadsOutsideHostNetns()
    {
        string host = new FileInfo("/proc/self/ns/net").LinkTarget!;
        var strays = new List<string>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                string ns = new FileInfo(Path.Combine(task, "ns/net")).LinkTarget!;
                if (ns != host)
                    strays.Add($"{Path.GetFileName(task)}: {ns}");
            }
            catch (IOException) { } // thread exited meanwhile
        }
        return strays;
    }

    /// <summary>Runs a command to completion and returns (exit code, stdout + stderr).</summary>
    public static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 30 s");
        }
        return (p.ExitCode, output);
    }
}
