using System.Globalization;
using Thaw.Linux.Cgroups;

namespace Thaw.Cli.Bench.Soak;

/// <summary>What the soak kills, as a hostile function, the OOM killer or an operator would.</summary>
internal enum SoakFault
{
    /// <summary>A process in one of the instance's sandbox cgroups (warm, frozen, starting or parked).</summary>
    Sandbox,

    /// <summary>A child zygote of the import cache (a process in the zygotes' cgroup other than the root zygote).</summary>
    ChildZygote,

    /// <summary>The root zygote itself (thawd replaces it).</summary>
    RootZygote,

    /// <summary>Not a fault: thawd's stats did not answer the injector (within its client's timeout), so nothing was killed.</summary>
    Unreachable,
}

/// <summary>
/// Finds a victim of each kind through the instance's cgroups (pids hierarchy) and SIGKILLs it. The
/// zygotes' cgroup is the root zygote's; every other cgroup of the instance holds a sandbox or a
/// parked child.
/// </summary>
internal sealed class SoakFaults(string instance, Random random)
{
    private readonly string _dir = Path.Combine(CgroupHierarchy.Detect().Find("pids")?.MountPath ?? "/sys/fs/cgroup", instance);

    /// <summary>Kills one process of <paramref name="fault"/>'s kind; false when there was none to kill.</summary>
    public bool Inject(SoakFault fault, int rootZygote)
    {
        string? zygotes = CgroupOf(rootZygote);
        var victims = fault switch
        {
            SoakFault.RootZygote => [rootZygote],
            SoakFault.ChildZygote => zygotes is null ? [] : Pids(Path.Combine(_dir, zygotes)).Where(p => p != rootZygote).ToList(),
            _ => Directory.Exists(_dir)
                ? Directory.EnumerateDirectories(_dir, "sb-*").Where(d => Path.GetFileName(d) != zygotes).SelectMany(Pids).ToList()
                : [],
        };
        if (victims.Count == 0)
            return false;
        try
        {
            System.Diagnostics.Process.GetProcessById(victims[random.Next(victims.Count)]).Kill();
            return true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false; // it exited meanwhile
        }
    }

    /// <summary>The name of the instance's cgroup a process is in (pids hierarchy), or null.</summary>
    private string? CgroupOf(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length == 3 && (parts[1].Split(',').Contains("pids") || parts[1].Length == 0) && parts[2].Contains("/" + instance + "/", StringComparison.Ordinal))
                    return Path.GetFileName(parts[2]);
            }
        }
        catch (IOException) { }
        return null;
    }

    private static List<int> Pids(string cgroupDir)
    {
        try
        {
            return [.. File.ReadAllLines(Path.Combine(cgroupDir, "cgroup.procs")).Select(l => int.Parse(l, CultureInfo.InvariantCulture))];
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return [];
        }
    }
}
