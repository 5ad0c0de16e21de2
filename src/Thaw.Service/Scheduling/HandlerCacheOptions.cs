namespace Thaw.Service.Scheduling;

/// <summary>How warm sandboxes are kept, paused, queued for and evicted.</summary>
public sealed class HandlerCacheOptions
{
    /// <summary>
    /// What sandboxes (their memory limits) and zygotes (their measured PSS) may hold together. A
    /// cold start that would go over it evicts idle sandboxes (Greedy-Dual) or is refused: never overcommitted.
    /// </summary>
    public long MemoryBudgetBytes { get; set; } = DefaultBudget();

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
