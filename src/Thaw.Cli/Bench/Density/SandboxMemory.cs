using System.Globalization;
using Thaw.Resources.Cgroups;

namespace Thaw.Cli.Bench.Density;

/// <summary>
/// One idle sandbox's memory, from its processes and its cgroup. USS (private pages, what killing it
/// frees), PSS and RSS from /proc/PID/smaps_rollup; its page tables from VmPTE; the kernel's share
/// from its memory cgroup: the kernel memory charged to it (v1 memory.kmem.usage_in_bytes, v2
/// memory.stat's kernel) and its whole usage (user pages, page cache and kernel memory).
/// </summary>
internal sealed record SandboxMemory(int Processes, long UssBytes, long PssBytes, long RssBytes, long PageTableBytes, long CgroupBytes, long CgroupKernelBytes)
{
    public static SandboxMemory Read(SandboxCgroup cgroup)
    {
        long uss = 0, pss = 0, rss = 0, pte = 0;
        var pids = cgroup.Pids();
        foreach (int pid in pids)
        {
            var rollup = Fields($"/proc/{pid}/smaps_rollup");
            uss += rollup.GetValueOrDefault("Private_Clean") + rollup.GetValueOrDefault("Private_Dirty");
            pss += rollup.GetValueOrDefault("Pss");
            rss += rollup.GetValueOrDefault("Rss");
            pte += Fields($"/proc/{pid}/status").GetValueOrDefault("VmPTE");
        }
        long usage = cgroup.MemoryUsageBytes();
        string kmem = Path.Combine(cgroup.MemoryDirectory, "memory.kmem.usage_in_bytes");
        long kernel = File.Exists(kmem)
            ? long.Parse(File.ReadAllText(kmem).Trim(), CultureInfo.InvariantCulture)
            : Fields(Path.Combine(cgroup.MemoryDirectory, "memory.stat"), kib: false).GetValueOrDefault("kernel");
        return new SandboxMemory(pids.Count, uss, pss, rss, pte, usage, kernel);
    }

    /// <summary>"Key: value [kB]" lines (or "key value" ones) as bytes; unreadable (the process went) is empty.</summary>
    private static Dictionary<string, long> Fields(string file, bool kib = true)
    {
        var fields = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                var parts = line.Split([' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                    fields[parts[0]] = kib ? value * 1024 : value;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return fields;
    }
}
