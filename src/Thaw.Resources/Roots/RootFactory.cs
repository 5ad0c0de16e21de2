using System.Globalization;
using Thaw.Linux.Files;
using Thaw.Linux.Mounts;
using Thaw.Resources.Pooling;

namespace Thaw.Resources.Roots;

/// <summary>
/// Crafts, recycles and destroys sandbox roots under one directory (which the pool keeps a private
/// mount, so nothing here propagates to other mount namespaces). A root is SOCK's lean root: bind
/// mounts and a chroot, no image layers, no overlayfs.
/// </summary>
public sealed class RootFactory : IResourceFactory<SandboxRoot>
{
    /// <summary>
    /// The root tmpfs holds only mount points, symlinks and device nodes (inodes, no data) and is
    /// read-only once built; the size is a cap, tmpfs allocates pages only when written.
    /// </summary>
    private const long RootTmpfsBytes = 256 << 10;

    private const UnixFileMode RootMode = (UnixFileMode)0b111_101_101;          // 0755
    private const UnixFileMode ScratchMode = (UnixFileMode)0b1_111_111_111;     // 1777: the sandbox's uid is chosen at spawn
    private const UnixFileMode DeviceMode = (UnixFileMode)0b110_110_110;        // 0666

    private readonly string _rootsDir;
    private readonly RootPoolOptions _options;
    private readonly RootLayout _layout;
    private int _next;

    public RootFactory(string rootsDir, RootPoolOptions options)
    {
        options.Validate();
        _rootsDir = rootsDir;
        _options = options;
        // Inside the roots dir: its sweep removes it with the roots (plain files, no mounts).
        _layout = RootLayout.From(options, Path.Combine(rootsDir, "etc"));
    }

    public SandboxRoot Create()
    {
        int id = Interlocked.Increment(ref _next) - 1;
        var root = new SandboxRoot(id, Path.Combine(_rootsDir, id.ToString(CultureInfo.InvariantCulture)));
        // A leftover of a crashed run must go through RootRecovery, never be built over.
        if (Path.Exists(root.Path))
            throw new IOException($"sandbox root '{root.Path}' already exists; RootRecovery.Sweep removes leftovers");
        Directory.CreateDirectory(root.Path);
        try
        {
            Build(root);
            return root;
        }
        catch (Exception e)
        {
            // No half-made root: undo, but report the first error, not a failure of the undo.
            try { Destroy(root); }
            catch (Exception undo) { throw new AggregateException($"building {root.Path} failed and undoing it failed too", e, undo); }
            throw;
        }
    }

    private void Build(SandboxRoot root)
    {
        // Not nodev: the /dev nodes live in this tmpfs.
        Mounts.Tmpfs(root.Path, RootTmpfsBytes, RootMode, MountFlags.NoSuid);
        foreach (var (name, target) in _layout.Symlinks)
            File.CreateSymbolicLink(Path.Combine(root.Path, name), target);
        foreach (var name in _layout.Binds.Concat(RootPoolOptions.ReservedNames))
            Directory.CreateDirectory(Path.Combine(root.Path, name));
        foreach (var (name, major, minor) in _layout.DeviceNumbers)
            DeviceNode.CreateChar(Path.Combine(root.DevDir, name), major, minor, DeviceMode);
        foreach (var (name, target) in RootLayout.DevLinks)
            File.CreateSymbolicLink(Path.Combine(root.DevDir, name), target);
        foreach (var (name, source) in _layout.BindSources)
            BindReadOnly(source, Path.Combine(root.Path, name));
        MountScratch(root);
        // Last: from here on the sandbox cannot create or change anything in its own /.
        Mounts.RemountReadOnly(root.Path, MountFlags.NoSuid);
    }

    /// <summary>
    /// A read-only, private bind. Private because a bind of a shared host mount joins its peer group,
    /// and the host's later mounts below the source would then appear inside every sandbox.
    /// </summary>
    internal static void BindReadOnly(string source, string target)
    {
        Mounts.Bind(source, target, readOnly: true);
        Mounts.MakePrivate(target);
    }

    private void MountScratch(SandboxRoot root)
    {
        Mounts.Tmpfs(root.TmpDir, _options.TmpSizeBytes, ScratchMode);
        Mounts.Tmpfs(root.HostDir, _options.HostSizeBytes, ScratchMode);
    }

    public bool TryRecycle(SandboxRoot root)
    {
        while (Mounts.Unmount(root.HandlerDir)) { }
        while (Mounts.Unmount(root.PackagesDir)) { }
        root.CodeDir = null;
        // A new tmpfs rather than deleting files: nothing the last sandbox wrote (files, sockets, a
        // full disk) can survive, and it costs the same as an rm of one file. An empty scratch dir is
        // kept as it is (the sandbox cannot change the mode of a root-owned 1777 dir): most sandboxes
        // write nothing there, and an unmount plus a mount cost ~1 ms of CPU per dir on every recycle.
        foreach (var (scratch, size) in new[] { (root.TmpDir, _options.TmpSizeBytes), (root.HostDir, _options.HostSizeBytes) })
        {
            if (IsEmpty(scratch))
                continue;
            Mounts.Unmount(scratch);
            Mounts.Tmpfs(scratch, size, ScratchMode);
        }
        // The check lists every mount of thawd's namespace after the root's (listmount walks them
        // all): a fifth of thawd's CPU under sustained cold starts. Needed only for a root a sandbox
        // chrooted into in place.
        bool cloned = root.OnlyCloned;
        root.OnlyCloned = false;
        return cloned || HasExpectedMounts(root);
    }

    private static bool IsEmpty(string dir)
    {
        try { return !Directory.EnumerateFileSystemEntries(dir).Any(); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// Exactly the mounts Build made, the root and the base binds still read-only. Run on every
    /// recycle: by mount id where the kernel can (a dozen syscalls), else from the whole mount table.
    /// </summary>
    internal bool HasExpectedMounts(SandboxRoot root) => MountTree.Supported ? HasExpectedMountsById(root) : HasExpectedMountsInTable(root);

    private List<string> BindsOf(SandboxRoot root) => [.. _layout.Binds.Select(name => Path.Combine(root.Path, name))];

    internal bool HasExpectedMountsById(SandboxRoot root)
    {
        var binds = BindsOf(root);
        // Each expected mount point must be the root of a mount (the topmost, if stacked), and those
        // must be exactly the mounts below the root: a missing, extra or stacked mount fails one or the other.
        if (MountTree.MountRootId(root.Path) is not { } rootId)
            return false;
        var expected = new HashSet<ulong>();
        foreach (var dir in binds.Append(root.TmpDir).Append(root.HostDir))
        {
            if (MountTree.MountRootId(dir) is not { } id)
                return false;
            expected.Add(id);
        }
        var below = MountTree.Below(rootId);
        return below.Count == expected.Count && expected.SetEquals(below)
            && binds.Prepend(root.Path).All(MountTree.IsReadOnly);
    }

    internal bool HasExpectedMountsInTable(SandboxRoot root)
    {
        var expected = BindsOf(root).Append(root.Path).Append(root.TmpDir).Append(root.HostDir)
            .Order(StringComparer.Ordinal);
        var mounts = MountTable.Read().MountsUnder(root.Path);
        var readOnly = mounts.Where(m => m.MountPoint != root.TmpDir && m.MountPoint != root.HostDir);
        return mounts.Select(m => m.MountPoint).Order(StringComparer.Ordinal).SequenceEqual(expected)
            && readOnly.All(m => m.IsReadOnly);
    }

    public void Destroy(SandboxRoot root)
    {
        // A lazy unmount of the root detaches it with every mount below it in one call; the whole
        // mount table is read only when something is still mounted there. Reading it per root made
        // stopping thousands of sandboxes quadratic: 35,000 mounts for 5,000 roots, 10 roots a second.
        for (int stacked = 0; stacked < 8 && Mounts.Unmount(root.Path); stacked++) { }
        if (Directory.Exists(root.Path) && (MountTree.Supported ? MountTree.MountRootId(root.Path) is not null : MountTable.Read().IsMountPoint(root.Path)))
            Mounts.UnmountTree(root.Path);
        // Everything inside lived in the root tmpfs, now gone: the dir is empty, so no recursive
        // delete that could reach into a host dir.
        if (Directory.Exists(root.Path))
            Directory.Delete(root.Path);
    }
}
