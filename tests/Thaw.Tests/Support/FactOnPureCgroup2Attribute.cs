using Thaw.Linux.Cgroups;
using Thaw.Resources.Cgroups;

namespace Thaw.Tests.Support;

/// <summary>
/// A fact about cgroup2's own rules (delegation, the no-internal-processes rule): skipped, with the
/// reason shown in the results, unless memory, cpu and pids are all on one cgroup2 mount. The cgroup v2
/// VM (../shared/vm/cgroup2-vm) runs them on a machine whose host is v1 or hybrid.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FactOnPureCgroup2Attribute : FactAttribute
{
    public FactOnPureCgroup2Attribute()
    {
        var hierarchy = CgroupHierarchy.Detect();
        if (hierarchy.UnifiedMount is null || CgroupLayout.RequiredControllers.Any(c => hierarchy.Find(c)?.Version != 2))
            Skip = $"needs a pure cgroup2 host (memory, cpu and pids on cgroup2); this one has {hierarchy.Describe()}";
    }
}
