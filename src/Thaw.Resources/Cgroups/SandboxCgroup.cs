using Thaw.Linux;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Files;

namespace Thaw.Resources.Cgroups;

/// <summary>
/// One pooled cgroup: the same relative path ("&lt;instance&gt;/sb-&lt;n&gt;") in every hierarchy of the
/// layout. A process belongs to the sandbox once it is in all of them, so <see cref="Join"/> writes
/// each cgroup.procs; the zygote protocol instead passes those files as fds (<see cref="ProcsFiles"/>).
/// Used by one claimant at a time; not thread-safe.
/// </summary>
public sealed partial class SandboxCgroup
{
    private readonly CgroupLayout _layout;
    private readonly TimeSpan _timeout;
    private SafeFd[]? _procsFds;

    internal SandboxCgroup(CgroupLayout layout, string parentName, int id, TimeSpan timeout)
    {
        _layout = layout;
        _timeout = timeout;
        Id = id;
        RelativePath = parentName + "/sb-" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Directories = [.. layout.Hierarchies.Select(DirectoryIn)];
        ProcsFiles = [.. Directories.Select(d => Path.Combine(d, "cgroup.procs"))];
        MemoryDirectory = DirectoryIn(layout.Memory);
        CpuDirectory = DirectoryIn(layout.Cpu);
        PidsDirectory = DirectoryIn(layout.Pids);
    }

    public int Id { get; }

    /// <summary>The path below each hierarchy's mount point, e.g. "thaw/sb-3".</summary>
    public string RelativePath { get; }

    /// <summary>The cgroup's directory in every hierarchy it lives in.</summary>
    public IReadOnlyList<string> Directories { get; }

    /// <summary>The cgroup.procs file of every hierarchy: writing a pid to each moves the process in.</summary>
    public IReadOnlyList<string> ProcsFiles { get; }

    /// <summary>
    /// <see cref="ProcsFiles"/> opened for writing, once for the pooled cgroup's life: a spawn passes
    /// these to the zygote instead of opening four cgroupfs files on the request path (0.1–0.2 ms after idle).
    /// </summary>
    public IReadOnlyList<SafeFd> ProcsFds => _procsFds ??= [.. ProcsFiles.Select(FileDescriptors.OpenWrite)];

    /// <summary>
    /// Closes <see cref="ProcsFds"/> once the sandbox's process has joined (it needs them no more);
    /// the pool reopens them when it recycles the cgroup, off the request path. A node of thousands
    /// of idle sandboxes would otherwise hold four descriptors each and hit its open-files limit first.
    /// </summary>
    public void CloseDescriptors()
    {
        foreach (var fd in _procsFds ?? [])
            fd.Dispose();
        _procsFds = null;
    }

    public string MemoryDirectory { get; }

    public string CpuDirectory { get; }

    public string PidsDirectory { get; }

    /// <summary>Whether <see cref="Freeze"/> works on this host.</summary>
    public bool CanFreeze => _layout.Freezer is not null;

    /// <summary>The limits last written, so a recycle knows what to reset.</summary>
    public CgroupLimits? Limits { get; private set; }

    /// <summary>Moves process <paramref name="pid"/> (all its threads) into the cgroup in every hierarchy.</summary>
    public void Join(int pid)
    {
        foreach (var dir in Directories)
            CgroupFs.Join(dir, pid);
    }

    /// <summary>The processes in the cgroup, in any of its hierarchies.</summary>
    public IReadOnlyList<int> Pids() => [.. Directories.SelectMany(CgroupFs.ReadProcs).Distinct().Order()];

    /// <summary>Memory charged to the cgroup now (including page cache), in bytes.</summary>
    public long MemoryUsageBytes() =>
        CgroupFs.ReadInt64(Path.Combine(MemoryDirectory, _layout.Memory.Version == 1 ? "memory.usage_in_bytes" : "memory.current"));

    /// <summary>
    /// Whether the OOM killer killed a process in this cgroup since it was last pooled. The kernel's
    /// count survives recycling and cannot be reset, so the pool records it when it recycles the
    /// cgroup, off the request path. (v1's memory.failcnt is no use here: it stays 0 after an OOM
    /// kill on this kernel.)
    /// </summary>
    public bool OomKilledSinceClaim() => OomKills() > OomKillsWhenPooled;

    /// <summary>The kernel's OOM-kill count when the pool last made or recycled this cgroup.</summary>
    internal long OomKillsWhenPooled { get; set; }

    /// <summary>How often the OOM killer has killed a process in this cgroup since it was made.</summary>
    internal long OomKills()
    {
        string file = Path.Combine(MemoryDirectory, _layout.Memory.Version == 1 ? "memory.oom_control" : "memory.events");
        return long.TryParse(CgroupFs.ReadKey(file, "oom_kill"), System.Globalization.CultureInfo.InvariantCulture, out long n) ? n : 0;
    }

    /// <summary>Stops every process in the cgroup (the handler cache's "paused"); waits until all are stopped.</summary>
    public void Freeze() => SetFrozen(true);

    /// <summary>Resumes a frozen cgroup and waits until it runs again.</summary>
    public void Thaw() => SetFrozen(false);

    public bool IsFrozen => _layout.Freezer is { } f && CgroupFreezer.IsFrozen(DirectoryIn(f), f.Version);

    public override string ToString() => RelativePath;

    private void SetFrozen(bool frozen)
    {
        var freezer = _layout.Freezer
            ?? throw new InvalidOperationException($"cgroup {RelativePath}: this host has no cgroup freezer (no v1 freezer hierarchy, no cgroup2)");
        CgroupFreezer.SetFrozen(DirectoryIn(freezer), freezer.Version, frozen, _timeout);
    }

    private string DirectoryIn(CgroupController hierarchy) => Path.Combine(_layout.RootIn(hierarchy), RelativePath);

    /// <summary>Creates the directory in every hierarchy.</summary>
    internal void Create()
    {
        foreach (var dir in Directories)
            CgroupFs.CreateDirectory(dir);
        _ = ProcsFds; // opened while crafting, off the request path
    }

    /// <summary>
    /// Kills every process and leaves the cgroup thawed and empty; false if something survived the timeout.
    /// The release does this too, but later, on the pool's worker: a sandbox whose parent died and
    /// cannot reap it calls it at once.
    /// On v1 the freezer is used first so nothing forks between reading cgroup.procs and the kill; frozen
    /// tasks die only once thawed, and a sandbox released while paused must not stay frozen either.
    /// </summary>
    public bool KillAll()
    {
        // The usual case: the sandbox's pid 1 died and took its pid namespace along. Nothing can fork
        // in an empty cgroup, so there is nothing to freeze or kill (a freeze costs ms on v1); but one
        // released while paused is still set to freeze, and would freeze its next sandbox.
        if (IsEmpty() && !IsFreezeRequestedQuietly())
            return true;
        var deadline = DateTime.UtcNow + _timeout;
        bool froze = _layout.Freezer?.Version == 1 && TryDo(() => SetFrozen(true));
        foreach (var dir in Directories)
            CgroupFs.KillProcs(dir);
        if (CanFreeze && (froze || IsFreezeRequestedQuietly()))
            TryDo(() => SetFrozen(false));
        foreach (var dir in Directories)
            if (!CgroupFs.KillAll(dir, Remaining(deadline)))
                return false;
        return true;
    }

    /// <summary>Removes the directory from every hierarchy; already-missing ones are fine.</summary>
    internal void Remove()
    {
        CloseDescriptors();
        foreach (var dir in Directories)
            CgroupFs.RemoveDirectory(dir, _timeout);
    }

    private bool IsEmpty() => _layout.Hierarchies.All(h => CgroupFs.IsEmpty(DirectoryIn(h), h.Version));

    private bool IsFreezeRequestedQuietly()
    {
        try { return _layout.Freezer is { } f && CgroupFreezer.IsFreezeRequested(DirectoryIn(f), f.Version); }
        catch (IOException) { return false; }
    }

    private static bool TryDo(Action action)
    {
        // A half-removed cgroup (ENOENT) or a stuck freeze must not stop the kill that follows.
        try { action(); return true; }
        catch (Exception e) when (e is LinuxException or TimeoutException or IOException) { return false; }
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
