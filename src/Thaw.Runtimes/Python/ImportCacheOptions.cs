namespace Thaw.Runtimes.Python;

/// <summary>How the import cache (the zygote tree) learns and how big it may grow.</summary>
public sealed class ImportCacheOptions
{
    /// <summary>The zygotes' memory (proportional set size, summed) at most; idle leaves are evicted beyond it.</summary>
    public long MemoryBudgetBytes { get; set; } = 512L << 20;

    /// <summary>A package set used by this many functions gets a zygote.</summary>
    public int SharedBy { get; set; } = 2;

    /// <summary>A function with this many cold starts gets a zygote for its whole package set.</summary>
    public int HotStarts { get; set; } = 2;

    /// <summary>A zygote nothing forked from for this long is evicted.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Children each zygote of the tree keeps forked ahead (see ZygoteOptions.Parked).</summary>
    public int Parked { get; set; } = 1;

    /// <summary>How long forking a zygote and importing its packages may take.</summary>
    public TimeSpan ForkTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public void Validate()
    {
        var problems = new List<string>();
        if (MemoryBudgetBytes < 0) problems.Add($"MemoryBudgetBytes must not be negative (was {MemoryBudgetBytes})");
        if (SharedBy < 2) problems.Add($"SharedBy must be at least 2 (was {SharedBy})");
        if (HotStarts < 1) problems.Add($"HotStarts must be at least 1 (was {HotStarts})");
        if (Parked is < 0 or > 64) problems.Add($"Parked must be 0 to 64 (was {Parked})");
        if (IdleTimeout <= TimeSpan.Zero) problems.Add($"IdleTimeout must be positive (was {IdleTimeout})");
        if (problems.Count > 0)
            throw new ArgumentException("invalid import cache options: " + string.Join("; ", problems));
    }
}
