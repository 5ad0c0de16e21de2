using System.Diagnostics;
using Thaw.Linux.Mounts;
using Thaw.Linux.Netlink;

namespace Thaw.Tests.Support;

/// <summary>Counts what an instance left in the kernel: the numbers every test class asserts are zero.</summary>
public static class LeakCensus
{
    public static IReadOnlyList<string> MountsUnder(string dir) => MountTable.Read().MountPointsUnder(dir);

    public static IReadOnlyList<string> LinksStartingWith(string prefix)
    {
        using var netlink = new NetlinkSocket();
        return netlink.ListLinks().Select(l => l.Name).Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
    }

    /// <summary>The iptables rules (nat and filter) tagged for an instance, as `iptables -S` prints them.</summary>
    public static List<string> NatRules(Thaw.Resources.ThawNaming naming) =>
        [.. new[] { "nat", "filter" }
            .SelectMany(t => Run("iptables", "-w", "-t", t, "-S").Output.Split('\n'))
            .Where(l => l.Split(' ').Select(x => x.Trim('"')).Contains(Thaw.Resources.Netns.HostNat.Tag(naming)))];

    /// <summary>The zygote processes of the instance whose state dir this is (a child zygote is a fork: the same command line).</summary>
    public static List<int> ZygotesOf(string stateDir) =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(p => int.TryParse(p, out _)).Select(int.Parse!).Where(pid =>
        {
            try
            {
                string cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
                return cmdline.Contains("zygote.py", StringComparison.Ordinal) && cmdline.Contains(stateDir + "/", StringComparison.Ordinal);
            }
            catch (IOException) { return false; }
        })];

    public static int OpenFds() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

    /// <summary>
    /// This process's fds less those <paramref name="host"/>'s pools hold for their resources' life
    /// (each pooled cgroup its cgroup.procs files, each pooled netns its fd and a netlink socket),
    /// which a refill moves by four or two at a time: what is left must not grow. Every live resource
    /// counts, not just idle and lent ones: one released and waiting to be
    /// recycled still holds its fds. Read until two readings agree, so a craft or destroy between the
    /// fd listing and the pool's counters does not show as a change.
    /// </summary>
    public static int OpenFdsLessPools(Thaw.Resources.ResourceHost host)
    {
        int last = Reading(host);
        for (int i = 0; i < 50; i++)
        {
            Thread.Sleep(2);
            int now = Reading(host);
            if (now == last)
                return now;
            last = now;
        }
        return last;
    }

    private static int Reading(Thaw.Resources.ResourceHost host)
    {
        long pooled = host.Cgroups.Layout.Hierarchies.Count * host.Cgroups.Pool.Stats().Live +
            host.Stats().Where(s => s.Name.StartsWith("netns", StringComparison.Ordinal)).Sum(s => 2 * s.Live);
        return OpenFds() - (int)pooled;
    }

    /// <summary>
    /// Open fds of namespaces (nsfs files, shown as their pinned path or net:[...]) and sockets: the
    /// kinds the netns pool holds, which the runtime does not open behind a test's back (unlike pipes
    /// and eventfds), so the count is exact. (/proc/self/net/netlink lists only the sockets of the
    /// current namespace, so it cannot tell netlink sockets made inside pooled namespaces.)
    /// </summary>
    public static int NamespaceAndNetlinkFds()
    {
        int count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(fd).LinkTarget; }
            catch (IOException) { continue; }
            if (target is null) continue;
            if (target.StartsWith("net:[", StringComparison.Ordinal) || target.Contains("/netns/", StringComparison.Ordinal)
                || target.StartsWith("socket:[", StringComparison.Ordinal))
                count++;
        }
        return count;
    }

    /// <summary>Threads of this process whose network namespace differs from the main thread's.</summary>
    public static IReadOnlyList<string> ThreadsOutsideHostNetns()
    {
        string host = new FileInfo("/proc/self/ns/net").LinkTarget!;
        var strays = new List<string>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                // A thread that exits during the scan has no link any more (null), like an IOException.
                string? ns = new FileInfo(Path.Combine(task, "ns/net")).LinkTarget;
                if (ns is not null && ns != host)
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
