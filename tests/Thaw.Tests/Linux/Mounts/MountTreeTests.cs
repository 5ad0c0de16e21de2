using Thaw.Linux.Mounts;
using Thaw.Tests.Support;
using M = Thaw.Linux.Mounts.Mounts;

namespace Thaw.Tests.Linux.Mounts;

/// <summary>The mount tree by id (statx + listmount) against the kernel, checked with mountinfo.</summary>
public sealed class MountTreeTests : IDisposable
{
    private readonly string _dir = TestInstance.NewTempDir("thaw-test-tree-");

    [FactOnHost(HostNeed.Listmount)]
    public void Below_are_exactly_the_mounts_under_one_and_read_only_is_seen()
    {
        M.Tmpfs(_dir, 1 << 20, (UnixFileMode)0b111_101_101);
        foreach (var name in new[] { "a", "b", "b2" })
            Directory.CreateDirectory(Path.Combine(_dir, name));
        M.Tmpfs(Path.Combine(_dir, "a"), 1 << 20, (UnixFileMode)0b111_101_101);
        M.Bind("/usr", Path.Combine(_dir, "b"), readOnly: true);
        Directory.CreateDirectory(Path.Combine(_dir, "a", "nested"));
        M.Tmpfs(Path.Combine(_dir, "a", "nested"), 1 << 20, (UnixFileMode)0b111_101_101);

        ulong top = MountTree.MountRootId(_dir)!.Value;
        Assert.Null(MountTree.MountRootId(Path.Combine(_dir, "b2"))); // a plain dir
        ulong a = MountTree.MountRootId(Path.Combine(_dir, "a"))!.Value;
        ulong b = MountTree.MountRootId(Path.Combine(_dir, "b"))!.Value;
        ulong nested = MountTree.MountRootId(Path.Combine(_dir, "a", "nested"))!.Value;
        Assert.Equal([a, b, nested], MountTree.Below(top).Order());
        Assert.Equal([nested], MountTree.Below(a));
        Assert.Empty(MountTree.Below(b));
        Assert.Equal(MountTable.Read().MountsUnder(_dir).Count - 1, MountTree.Below(top).Count); // mountinfo agrees
        Assert.True(MountTree.IsReadOnly(Path.Combine(_dir, "b")));
        Assert.False(MountTree.IsReadOnly(Path.Combine(_dir, "a")));
    }

    public void Dispose()
    {
        M.UnmountTree(_dir);
        Directory.Delete(_dir, recursive: true);
    }
}
