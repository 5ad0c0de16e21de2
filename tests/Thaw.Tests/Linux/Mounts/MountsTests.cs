using Thaw.Linux;
using Thaw.Linux.Mounts;
using Thaw.Tests.Support;
using M = Thaw.Linux.Mounts.Mounts;

namespace Thaw.Tests.Linux.Mounts;

public sealed class MountsTests : IDisposable
{
    private const int EROFS = 30;
    private const int ENOSPC = 28;
    private readonly string _dir = TestInstance.NewTempDir("thaw-mounts-");

    private string Sub(string name)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public void Read_only_bind_shows_the_source_and_refuses_writes_with_EROFS()
    {
        var source = Sub("src");
        File.WriteAllText(Path.Combine(source, "f"), "hello");
        var target = Sub("dst");

        M.Bind(source, target, readOnly: true);

        Assert.Equal("hello", File.ReadAllText(Path.Combine(target, "f")));
        var e = Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(target, "g"), "x"));
        Assert.Equal(EROFS, TestInstance.Errno(e));
        var entry = MountTable.Read().MountsUnder(target).Single();
        Assert.True(entry.IsReadOnly);
        Assert.Contains("nosuid", entry.MountOptions.Split(','));
        Assert.Contains("nodev", entry.MountOptions.Split(','));
        File.WriteAllText(Path.Combine(source, "g"), "still writable at the source");
    }

    [Fact]
    public void Writable_bind_writes_through_to_the_source()
    {
        var source = Sub("src");
        var target = Sub("dst");

        M.Bind(source, target, readOnly: false);
        File.WriteAllText(Path.Combine(target, "f"), "via bind");

        Assert.Equal("via bind", File.ReadAllText(Path.Combine(source, "f")));
    }

    [Fact]
    public void Tmpfs_is_size_limited_and_can_be_made_read_only()
    {
        var target = Sub("t");
        M.Tmpfs(target, 1 << 20, (UnixFileMode)0b1_111_111_111, MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec);
        File.WriteAllBytes(Path.Combine(target, "small"), new byte[100_000]);

        var full = Assert.ThrowsAny<IOException>(() => File.WriteAllBytes(Path.Combine(target, "big"), new byte[2 << 20]));
        Assert.Equal(ENOSPC, TestInstance.Errno(full));
        var entry = MountTable.Read().MountsUnder(target).Single();
        Assert.Equal("tmpfs", entry.FsType);
        Assert.Contains("noexec", entry.MountOptions.Split(','));

        M.RemountReadOnly(target);
        var ro = Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(target, "late"), "x"));
        Assert.Equal(EROFS, TestInstance.Errno(ro));
        Assert.Contains("ro", MountTable.Read().MountsUnder(target).Single().SuperOptions.Split(','));
    }

    [Fact]
    public void MakePrivate_sets_private_propagation()
    {
        var target = Sub("p");
        M.Bind(target, target, readOnly: false);

        M.MakePrivate(target, recursive: true);

        Assert.Equal("", MountTable.Read().MountsUnder(target).Single().Propagation);
    }

    [Fact]
    public void UnmountTree_removes_nested_mounts_deepest_first()
    {
        var outer = Sub("outer");
        M.Tmpfs(outer, 1 << 20, (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(Path.Combine(outer, "inner"));
        M.Tmpfs(Path.Combine(outer, "inner"), 1 << 20, (UnixFileMode)0b111_101_101);
        M.Bind(Sub("src"), Path.Combine(outer, "inner"), readOnly: true);
        Assert.Equal(3, MountTable.Read().MountPointsUnder(_dir).Count);

        Assert.Equal(3, M.UnmountTree(_dir));

        Assert.Empty(MountTable.Read().MountPointsUnder(_dir));
    }

    [Fact]
    public void Failures_name_the_call_the_path_and_the_errno()
    {
        var missing = Path.Combine(_dir, "missing");

        var e = Assert.Throws<LinuxException>(() => M.Bind(missing, Sub("t"), readOnly: true));

        Assert.Equal(2, e.Errno);
        Assert.Contains("mount", e.Message, StringComparison.Ordinal);
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Contains("ENOENT", e.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        M.UnmountTree(_dir);
        Directory.Delete(_dir, recursive: true);
    }
}
