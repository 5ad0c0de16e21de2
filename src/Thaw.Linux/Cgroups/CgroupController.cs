namespace Thaw.Linux.Cgroups;

/// <summary>Where one controller lives: the hierarchy's mount point and its cgroup version (1 or 2).</summary>
public sealed record CgroupController(string Name, string MountPath, int Version)
{
    public override string ToString() => $"{Name} (v{Version} at {MountPath})";
}
