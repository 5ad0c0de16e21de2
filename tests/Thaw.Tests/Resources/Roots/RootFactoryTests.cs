using Thaw.Linux;
using Thaw.Linux.Mounts;
using Thaw.Resources;
using Thaw.Resources.Roots;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Roots;

/// <summary>The factory without the pool around it, so recycling can be driven deterministically.</summary>
public sealed class RootFactoryTests : IDisposable
{
    private readonly ThawNaming _naming = TestInstance.NewNaming();
    private readonly string _code = TestInstance.NewTempDir("thaw-code-");

    public RootFactoryTests()
    {
        Directory.CreateDirectory(_naming.RootsDir);
        Mounts.Bind(_naming.RootsDir, _naming.RootsDir, readOnly: false);
        Mounts.MakePrivate(_naming.RootsDir);
        File.WriteAllText(Path.Combine(_code, "handler.py"), "");
    }

    private RootFactory NewFactory(RootPoolOptions? options = null) =>
        new(_naming.RootsDir, options ?? new RootPoolOptions { TmpSizeBytes = 1 << 20, HostSizeBytes = 1 << 20 });

    [Fact]
    public void TryRecycle_unbinds_the_handler_and_gives_fresh_scratch()
    {
        var factory = NewFactory();
        var root = factory.Create();
        Mounts.Bind(_code, root.HandlerDir, readOnly: true);
        File.WriteAllText(Path.Combine(root.TmpDir, "left"), "x");
        File.WriteAllText(Path.Combine(root.HostDir, "left"), "x");

        Assert.True(factory.TryRecycle(root));

        Assert.Empty(Directory.EnumerateFileSystemEntries(root.HandlerDir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(root.TmpDir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(root.HostDir));
        Assert.Single(MountTable.Read().MountsUnder(root.TmpDir)); // replaced, not stacked
        File.WriteAllText(Path.Combine(root.TmpDir, "again"), "writable after recycle");
        factory.Destroy(root);
    }

    [Fact]
    public void A_root_whose_sandbox_saw_only_a_clone_is_recycled_without_listing_its_mounts_once()
    {
        var factory = NewFactory();
        var root = factory.Create();
        try
        {
            // What a sandbox does in its clone cannot reach here; an extra mount can only be thawd's
            // own (as here), which the flag tells the recycle not to look for, this once.
            Mounts.Tmpfs(root.ProcDir, 1 << 20, (UnixFileMode)0b111_101_101);
            root.OnlyCloned = true;
            Assert.True(factory.TryRecycle(root));
            Assert.False(root.OnlyCloned);
            Assert.False(factory.TryRecycle(root));
        }
        finally
        {
            factory.Destroy(root);
        }
    }

    [Fact]
    public void TryRecycle_refuses_a_root_with_an_unexpected_mount_or_a_writable_base()
    {
        var factory = NewFactory();
        var extra = factory.Create();
        Mounts.Tmpfs(extra.ProcDir, 1 << 20, (UnixFileMode)0b111_101_101);
        var writable = factory.Create();
        Mounts.Unmount(Path.Combine(writable.Path, "usr"));
        Mounts.Bind("/usr", Path.Combine(writable.Path, "usr"), readOnly: false);

        var nested = factory.Create();
        Mounts.Tmpfs(Path.Combine(nested.TmpDir), 1 << 20, (UnixFileMode)0b111_111_111); // stacked on the scratch
        var missing = factory.Create();
        Mounts.Unmount(Path.Combine(missing.Path, "etc"));

        var good = factory.Create();
        // Both checks (by mount id on Linux 6.8+, else from the mount table) see the same.
        // By mount id only where the kernel has it (statx's unique mount id, listmount: Linux 6.8+).
        bool byId = Thaw.Linux.Mounts.MountTree.Supported;
        Assert.True((!byId || factory.HasExpectedMountsById(good)) && factory.HasExpectedMountsInTable(good));
        foreach (var bad in new[] { extra, writable, nested, missing })
            Assert.False((byId && factory.HasExpectedMountsById(bad)) || factory.HasExpectedMountsInTable(bad), bad.Path);
        Assert.False(factory.TryRecycle(extra));
        Assert.False(factory.TryRecycle(writable));
        Assert.False(factory.TryRecycle(nested));
        Assert.False(factory.TryRecycle(missing));
        factory.Destroy(good);

        factory.Destroy(extra);
        factory.Destroy(writable);
        factory.Destroy(nested);
        factory.Destroy(missing);
        Assert.False(Path.Exists(extra.Path));
        Assert.Empty(MountTable.Read().MountsUnder(extra.Path));
    }

    [Fact]
    public void A_failed_create_leaves_no_half_made_root()
    {
        var baseRoot = TestInstance.NewTempDir("thaw-rootfs-");
        Directory.CreateDirectory(Path.Combine(baseRoot, "usr/bin"));
        Directory.CreateDirectory(Path.Combine(baseRoot, "etc"));
        File.CreateSymbolicLink(Path.Combine(baseRoot, "bin"), "usr/bin");
        var factory = NewFactory(new RootPoolOptions { BaseRoot = baseRoot, BaseDirs = ["usr", "bin", "etc"], Etc = null });
        // The layout was read at construction; a base dir vanishing later makes the bind fail midway.
        Directory.Delete(Path.Combine(baseRoot, "etc"));

        var e = Assert.Throws<LinuxException>(factory.Create);

        Assert.Equal(2, e.Errno);
        Assert.Equal([_naming.RootsDir], MountTable.Read().MountPointsUnder(_naming.RootsDir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_naming.RootsDir));
        Directory.Delete(baseRoot, recursive: true);
    }

    [Fact]
    public void A_configured_rootfs_provides_the_base_dirs_and_missing_ones_are_skipped()
    {
        var baseRoot = TestInstance.NewTempDir("thaw-rootfs-");
        Directory.CreateDirectory(Path.Combine(baseRoot, "usr/bin"));
        File.WriteAllText(Path.Combine(baseRoot, "usr/bin/tool"), "#!/bin/sh\n");
        File.CreateSymbolicLink(Path.Combine(baseRoot, "bin"), "usr/bin");
        var factory = NewFactory(new RootPoolOptions { BaseRoot = baseRoot });

        var root = factory.Create();

        Assert.True(File.Exists(Path.Combine(root.Path, "bin/tool")));
        Assert.False(Path.Exists(Path.Combine(root.Path, "lib")));
        // A rootfs without /etc still gets the sandbox's own: a passwd and a group.
        Assert.Equal(["group", "passwd"], Directory.GetFileSystemEntries(Path.Combine(root.Path, "etc")).Select(Path.GetFileName).Order());
        Assert.Equal(5, MountTable.Read().MountsUnder(root.Path).Count); // root, usr, etc, tmp, host
        factory.Destroy(root);
        Directory.Delete(baseRoot, recursive: true);
    }

    public void Dispose()
    {
        RootRecovery.Sweep(_naming);
        Directory.Delete(_naming.StateDir, recursive: true);
        Directory.Delete(_code, recursive: true);
    }
}
