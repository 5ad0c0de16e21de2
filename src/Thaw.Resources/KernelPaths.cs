using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;

namespace Thaw.Resources;

/// <summary>
/// Which of the kernel's ways thawd took, where the kernel offers several (newer kernels have
/// faster or atomic ones, older ones keep a fallback): one line for the start-up log, so a report
/// from any host says which code ran.
/// </summary>
public static class KernelPaths
{
    public static string Describe(ResourceHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var layout = host.Cgroups.Layout;
        var v2Parent = layout.Hierarchies.Where(h => h.Version == 2).Zip(host.Cgroups.ParentDirectories).Select(p => p.Second).FirstOrDefault();
        var parts = new List<string>
        {
            layout.Hierarchies.All(h => h.Version == 2) ? "cgroup v2" : layout.Hierarchies.Any(h => h.Version == 2) ? "cgroup hybrid (v1 + v2)" : "cgroup v1",
            host.Placement.IsDelegated ? $"delegated {host.Placement.DelegatedRoot} (thawd in {Path.GetFileName(host.Placement.DaemonLeaf)})" : $"own subtree {string.Join(" ", host.Cgroups.ParentDirectories)}",
            layout.Freezer switch
            {
                null => "no freezer",
                { Version: 1 } => "freezer v1 freezer.state (polled)",
                _ => "freezer cgroup.freeze (waits on cgroup.events)",
            },
            // cgroup.kill (5.14+) exists in every non-root cgroup2 directory of a kernel that has it.
            v2Parent is not null && File.Exists(Path.Combine(v2Parent, "cgroup.kill")) ? "kill cgroup.kill" : "kill SIGKILL per pid",
            MountTree.Supported ? "mounts listmount" : "mounts mountinfo (no listmount: Linux < 6.8)",
            MountTable.Read().Entries.FirstOrDefault(m => m.FsType == "cgroup2") is { } cgroup2
                ? (cgroup2.SuperOptionList.Contains(CgroupDynmods.Option) ? "favordynmods on" : "favordynmods off")
                : "no cgroup2 mount",
        };
        return string.Join(", ", parts);
    }
}
