namespace Thaw.Service.Scheduling;

/// <summary>How warm sandboxes are kept, paused, queued for and evicted.</summary>
public sealed class HandlerCacheOptions
{
    /// <summary>
    /// What sandboxes (as <see cref="Accounting"/> counts them) and zygotes (their measured PSS) may
    /// hold together. A cold start that would go over it evicts idle sandboxes (Greedy-Dual) when
    /// that makes it fit, or is refused.
    /// </summary>
    public long MemoryBudgetBytes { get; set; } = DefaultBudget();

    /// <summary>
    /// How a sandbox counts against the budget. <see cref="MemoryAccounting.Measured"/> by default: an
    /// idle sandbox (frozen, it cannot grow) holds what its cgroup measures, far below its limit (a
    /// hello sandbox a few MiB of 64), so counting limits fills a node with reservations nobody uses.
    /// </summary>
    public MemoryAccounting Accounting { get; set; } = MemoryAccounting.Measured;

    /// <summary>
    /// Measured accounting's overcommit factor F: a sandbox counts its measured usage plus 1/F of
    /// what its limit still allows (usage + (limit − usage) / F). The budget then holds as long as no
    /// more than one sandbox in F grows to its limit at once; F = 1 counts whole limits.
    /// </summary>
    public double OvercommitFactor { get; set; } = 8;

    /// <summary>
    /// How often an idle sandbox that is not frozen (a host without a freezer) is measured again. A
    /// frozen one is measured once, as it freezes: it cannot grow until it is thawed.
    /// </summary>
    public TimeSpan MeasureInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an idle warm sandbox is kept when its function's manifest does not say (keep_alive).</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Idle this long, a warm sandbox is paused with the cgroup freezer (it uses no CPU and cannot run
    /// timers); the next call thaws it. Not at once: a call in a burst should not pay a thaw.
    /// </summary>
    public TimeSpan FreezeAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Calls that may wait per function while all its sandboxes are busy; more get 429.</summary>
    public int QueueLength { get; set; } = 64;

    /// <summary>What a 429 tells the caller to wait before trying again.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often a call that its sandbox never read (it died first: a frozen sandbox killed from
    /// outside dies as it thaws) goes to another sandbox before the caller hears 502 sandbox_died.
    /// </summary>
    public int Redeliveries { get; set; } = 2;

    /// <summary>How long a removed or redeployed function's busy sandboxes may take to finish their calls.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public void Validate()
    {
        var problems = new List<string>();
        if (MemoryBudgetBytes < 32L << 20)
            problems.Add($"memory budget {MemoryBudgetBytes >> 20} MiB is below 32 MiB");
        if (!Enum.IsDefined(Accounting))
            problems.Add($"memory accounting {Accounting} is not measured or limits");
        if (!(OvercommitFactor >= 1 && OvercommitFactor <= 1000))
            problems.Add($"overcommit factor {OvercommitFactor} must be from 1 to 1000");
        if (MeasureInterval <= TimeSpan.Zero)
            problems.Add("measure interval must be positive");
        if (KeepAlive < TimeSpan.Zero)
            problems.Add("keep-alive must not be negative");
        if (FreezeAfter <= TimeSpan.Zero)
            problems.Add("freeze-after must be positive");
        if (QueueLength < 0)
            problems.Add("queue length must not be negative");
        if (Redeliveries < 0)
            problems.Add("redeliveries must not be negative");
        if (problems.Count > 0)
            throw new ArgumentException("handler cache: " + string.Join("; ", problems));
    }

    /// <summary>Half of the machine's memory: the rest is the host's, thawd's and the page cache's.</summary>
    private static long DefaultBudget()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(9).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024 / 2;
        }
        catch (IOException) { }
        return 2L << 30;
    }
}
