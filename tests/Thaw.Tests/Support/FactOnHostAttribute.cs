using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;

namespace Thaw.Tests.Support;

/// <summary>Something of the kernel a test is about that not every supported host has.</summary>
public enum HostNeed
{
    /// <summary>A v1 freezer hierarchy (hybrid hosts such as this dev machine).</summary>
    CgroupV1Freezer,

    /// <summary>A cgroup2 mount, even an empty one (hybrid hosts have /sys/fs/cgroup/unified).</summary>
    Cgroup2,

    /// <summary>memory, cpu and pids all on cgroup2: a pure v2 host (Debian 12, Ubuntu 22.04+, the cgroup v2 VM).</summary>
    CgroupV2Controllers,

    /// <summary>statx's unique mount id and listmount (Linux 6.8+).</summary>
    Listmount,
}

/// <summary>
/// A fact about a kernel feature only some hosts have: skipped, with the reason shown in the results,
/// on a host without it. The suite runs on a hybrid v1 host and in the cgroup v2 VM
/// (scripts/test-v2.sh), so each such fact runs for real on one of them. Never a test that returns
/// early and passes.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FactOnHostAttribute : FactAttribute
{
    private static readonly Lazy<CgroupHierarchy> Hierarchy = new(CgroupHierarchy.Detect);

    public FactOnHostAttribute(HostNeed need)
    {
        Need = need;
        if (Missing(need) is { } reason)
            Skip = reason;
    }

    public HostNeed Need { get; }

    /// <summary>Why this host lacks <paramref name="need"/>, or null when it has it.</summary>
    public static string? Missing(HostNeed need) => need switch
    {
        HostNeed.CgroupV1Freezer => Hierarchy.Value.Find("freezer") is { Version: 1 }
            ? null : "no cgroup v1 freezer on this host (pure cgroup v2): the v2 freezer tests cover it",
        HostNeed.Cgroup2 => Hierarchy.Value.UnifiedMount is not null ? null : "no cgroup2 mount on this host",
        HostNeed.CgroupV2Controllers => new[] { "memory", "cpu", "pids" }.All(c => Hierarchy.Value.Find(c) is { Version: 2 })
            ? null : "memory, cpu and pids are not all on cgroup2 here (a hybrid v1 host): scripts/test-v2.sh runs it in the cgroup v2 VM",
        HostNeed.Listmount => MountTree.Supported ? null : "no listmount/statx mount ids on this kernel (Linux 6.8+): the mountinfo fallback is tested instead",
        _ => throw new ArgumentOutOfRangeException(nameof(need)),
    };
}
