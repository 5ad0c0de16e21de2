namespace Thaw.Linux.Mounts;

/// <summary>One line of /proc/self/mountinfo (see proc(5)), paths already unescaped.</summary>
public sealed record MountEntry(
    int Id,
    int ParentId,
    string Root,
    string MountPoint,
    string MountOptions,
    string Propagation,
    string FsType,
    string Source,
    string SuperOptions)
{
    /// <summary>True when this mount is read-only (per-mount flag; the superblock may be rw).</summary>
    public bool IsReadOnly => MountOptions.Split(',').Contains("ro");

    /// <summary>The filesystem's options one by one (for cgroup v1 these name the controllers).</summary>
    public IReadOnlyList<string> SuperOptionList => SuperOptions.Split(',', StringSplitOptions.RemoveEmptyEntries);
}
