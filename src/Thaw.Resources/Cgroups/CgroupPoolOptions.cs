namespace Thaw.Resources.Cgroups;

/// <summary>The cgroup pool's size and the limits a sandbox gets when its claim names none.</summary>
public sealed class CgroupPoolOptions
{
    /// <summary>Idle cgroups kept ready.</summary>
    public int Size { get; set; } = 16;

    /// <summary>Default memory limit (v1 memory.limit_in_bytes, v2 memory.max); swap is not allowed on top.</summary>
    public long MemoryLimitBytes { get; set; } = 256L << 20;

    /// <summary>Default CPU bandwidth in CPUs: 1.0 is one CPU's worth of time per period.</summary>
    public double CpuQuota { get; set; } = 1.0;

    /// <summary>Default task limit (threads count): stops fork bombs.</summary>
    public int PidsMax { get; set; } = 128;

    /// <summary>The CFS period. 100 ms is the kernel's default; shorter periods throttle more smoothly but cost more.</summary>
    public int CpuPeriodMicroseconds { get; set; } = 100_000;

    /// <summary>How long killing a cgroup's processes, freezing or removing it may take before the cgroup is given up.</summary>
    public TimeSpan KillTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Turn cgroup2's favordynmods on at start (a host setting, left on): without it every join after
    /// idle waits for an RCU grace period, 5–15 ms here. See <see cref="Thaw.Linux.Cgroups.CgroupDynmods"/>.
    /// </summary>
    public bool FavorDynamicModifications { get; set; } = true;

    /// <summary>
    /// cgroup v2's memory.oom.group in every pooled cgroup: an OOM kill takes the whole sandbox (or
    /// zygote tree) rather than one process of it. No effect on v1. See docs/benchmarks.md (thaw bench cgroup2).
    /// </summary>
    public bool OomGroup { get; set; } = true;

    /// <summary>
    /// On a pure cgroup2 host, whether thawd keeps its tree inside the cgroup it was started in (a
    /// systemd unit with Delegate=yes) instead of a subtree of its own at the mount's root. See <see cref="CgroupPlacement"/>.
    /// </summary>
    public CgroupDelegation Delegation { get; set; } = CgroupDelegation.Auto;

    public CgroupLimits DefaultLimits => new(MemoryLimitBytes, CpuQuota, PidsMax);

    /// <summary>Throws one <see cref="ArgumentException"/> naming every bad option.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (Size < 0) // 0 is valid: no pooling, every claim crafts (the benchmark's "fresh" path)
            problems.Add($"Size must be 0 or more (was {Size})");
        // The kernel accepts CFS periods from 1 ms to 1 s.
        if (CpuPeriodMicroseconds is < 1000 or > 1_000_000)
            problems.Add($"{nameof(CpuPeriodMicroseconds)} must be between 1000 and 1000000 (was {CpuPeriodMicroseconds})");
        if (KillTimeout <= TimeSpan.Zero)
            problems.Add(CgroupLimits.Positive(nameof(KillTimeout), KillTimeout));
        problems.AddRange(DefaultLimits.Problems(CpuPeriodMicroseconds));
        if (problems.Count > 0)
            throw new ArgumentException("invalid cgroup pool options: " + string.Join("; ", problems));
    }
}
