using System.Globalization;

namespace Thaw.Cli.Bench.Density;

/// <summary>One resource that bounds how many idle sandboxes the node holds: what each costs, what the node has.</summary>
/// <remarks>PerSandbox is measured over the sandboxes the run added (or by design, where Source says so); Available is what was left of the limit before.</remarks>
internal sealed record DensityBound(string Resource, double PerSandbox, long Limit, long Available, string Source)
{
    /// <summary>Sandboxes this resource has room for, at the measured cost each.</summary>
    public long MaxSandboxes => PerSandbox <= 0 ? long.MaxValue : (long)(Available / PerSandbox);
}

/// <summary>The kernel's and the process's limits that a node of idle sandboxes runs into, read from /proc.</summary>
internal static class NodeLimits
{
    /// <summary>The kernel's memory cgroup ids are 16 bits (MEM_CGROUP_ID_MAX), on v1 and v2.</summary>
    public const long MemoryCgroupIds = 65535;

    /// <summary>Kernel tasks (threads) now: /proc/loadavg's "running/total".</summary>
    public static long Tasks() => long.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[3].Split('/')[1], CultureInfo.InvariantCulture);

    public static long Sysctl(string name) => long.Parse(File.ReadAllText("/proc/sys/" + name.Replace('.', '/')).Trim(), CultureInfo.InvariantCulture);

    /// <summary>A process's soft RLIMIT_NOFILE (/proc/PID/limits; "unlimited" is long.MaxValue).</summary>
    public static long OpenFiles(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/limits"))
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                string soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                return soft == "unlimited" ? long.MaxValue : long.Parse(soft, CultureInfo.InvariantCulture);
            }
        return 0;
    }

    /// <summary>Memory cgroups on the whole host now (/proc/cgroups).</summary>
    public static long MemoryCgroups()
    {
        foreach (var line in File.ReadLines("/proc/cgroups"))
        {
            var f = line.Split('\t', ' ');
            if (f[0] == "memory" && f.Length >= 3)
                return long.Parse(f[2], CultureInfo.InvariantCulture);
        }
        return 0;
    }
}
