using System.Globalization;

namespace Thaw.Cli.Bench.Density;

/// <summary>
/// What the node holds at one moment, for the per-sandbox costs (the difference between two censuses
/// divided by the sandboxes added): memory from /proc/meminfo, thawd's and the root zygote's file
/// descriptors, mounts in thawd's mount namespace, processes, the instance's memory cgroups.
/// </summary>
internal sealed record NodeCensus(
    long MemAvailableBytes,
    long KernelUnreclaimableBytes,
    long PageTableBytes,
    long ThawdFds,
    long ThawdRssBytes,
    long ZygoteFds,
    long Mounts,
    long Processes,
    long MemoryCgroups)
{
    public static NodeCensus Take(int zygotePid, string memoryCgroupParent)
    {
        var meminfo = KeyValues("/proc/meminfo");
        return new NodeCensus(
            meminfo.GetValueOrDefault("MemAvailable") * 1024,
            (meminfo.GetValueOrDefault("SUnreclaim") + meminfo.GetValueOrDefault("Percpu")) * 1024,
            meminfo.GetValueOrDefault("PageTables") * 1024,
            Count("/proc/self/fd"),
            KeyValues("/proc/self/status").GetValueOrDefault("VmRSS") * 1024,
            Count($"/proc/{zygotePid}/fd"),
            File.ReadLines("/proc/self/mountinfo").LongCount(),
            Directory.EnumerateDirectories("/proc").LongCount(d => char.IsAsciiDigit(Path.GetFileName(d)[0])),
            Directory.Exists(memoryCgroupParent) ? Directory.EnumerateDirectories(memoryCgroupParent).LongCount() : 0);
    }

    private static long Count(string dir)
    {
        try { return Directory.EnumerateFileSystemEntries(dir).LongCount(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    internal static Dictionary<string, long> KeyValues(string file)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(file))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var number = line.AsSpan(colon + 1).Trim().TrimEnd("kB").Trim();
            if (long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                values[line[..colon]] = value;
        }
        return values;
    }
}
