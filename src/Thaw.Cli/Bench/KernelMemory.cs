namespace Thaw.Cli.Bench;

/// <summary>
/// Kernel memory that pooled resources pin, read from /proc/meminfo: unreclaimable slab (the
/// namespace, device and socket structures) plus per-CPU allocations (per-netns statistics).
/// Reclaimable slab (dentries, inodes) is left out: it is a cache and moves with unrelated work.
/// </summary>
internal static class KernelMemory
{
    public const string Measure = "SUnreclaim+Percpu delta in /proc/meminfo";

    public static long ReadKib()
    {
        long total = 0;
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("SUnreclaim:", StringComparison.Ordinal) || line.StartsWith("Percpu:", StringComparison.Ordinal))
                total += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return total;
    }
}
