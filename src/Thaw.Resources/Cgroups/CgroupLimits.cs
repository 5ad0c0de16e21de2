using System.Globalization;

namespace Thaw.Resources.Cgroups;

/// <summary>What one sandbox may use: memory in bytes, CPU time as a fraction of CPUs (1.5 = one and a half), tasks.</summary>
public sealed record CgroupLimits(long MemoryLimitBytes, double CpuQuota, int PidsMax)
{
    /// <summary>The kernel's CFS bandwidth floor: a quota below 1 ms per period is refused with EINVAL.</summary>
    public const int MinCpuQuotaMicroseconds = 1000;

    /// <summary>Throws one <see cref="ArgumentException"/> naming every bad value.</summary>
    public void Validate(int cpuPeriodMicroseconds)
    {
        var problems = Problems(cpuPeriodMicroseconds).ToList();
        if (problems.Count > 0)
            throw new ArgumentException("invalid cgroup limits: " + string.Join("; ", problems));
    }

    /// <summary>Each bad value, described with the property name a user would set.</summary>
    public IEnumerable<string> Problems(int cpuPeriodMicroseconds)
    {
        if (MemoryLimitBytes <= 0)
            yield return Positive(nameof(MemoryLimitBytes), MemoryLimitBytes);
        if (!(CpuQuota > 0) || double.IsInfinity(CpuQuota))
            yield return Positive(nameof(CpuQuota), CpuQuota);
        else if (cpuPeriodMicroseconds > 0 && CpuQuotaMicroseconds(cpuPeriodMicroseconds) < MinCpuQuotaMicroseconds)
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{nameof(CpuQuota)} must be at least {(double)MinCpuQuotaMicroseconds / cpuPeriodMicroseconds} CPUs (1 ms per {cpuPeriodMicroseconds} µs period; was {CpuQuota})");
        if (PidsMax <= 0)
            yield return Positive(nameof(PidsMax), PidsMax);
    }

    /// <summary>The quota the kernel takes: CPU microseconds per period.</summary>
    public long CpuQuotaMicroseconds(int cpuPeriodMicroseconds) => (long)Math.Round(CpuQuota * cpuPeriodMicroseconds);

    internal static string Positive(string name, object value) =>
        string.Create(CultureInfo.InvariantCulture, $"{name} must be positive (was {value})");
}
