using Thaw.Linux.Mounts;
using Thaw.Tests.Support;

namespace Thaw.Tests.Linux.Mounts;

public class MountTableTests
{
    private const string Sample =
        "26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" +
        "40 26 0:33 / /tmp/a rw - tmpfs tmpfs rw\n" +
        "41 40 0:34 / /tmp/a/with\\040space rw,nosuid - tmpfs tmp\\134fs rw\n" +
        "42 40 254:0 /usr /tmp/a/usr ro,nosuid,nodev - ext4 /dev/vda rw\n" +
        "43 40 0:35 / /tmp/a/usr rw - tmpfs tmpfs rw\n" +
        "44 26 0:36 / /tmp/ab rw - tmpfs tmpfs rw\n";

    [Fact]
    public void Parse_unescapes_octal_and_reads_every_field()
    {
        var table = MountTable.Parse(Sample);

        Assert.Equal(6, table.Entries.Count);
        var spaced = table.Entries.Single(e => e.Id == 41);
        Assert.Equal("/tmp/a/with space", spaced.MountPoint);
        Assert.Equal(40, spaced.ParentId);
        Assert.Equal("tmp\\fs", spaced.Source);
        Assert.Equal("tmpfs", spaced.FsType);
        Assert.Equal("shared:1", table.Entries[0].Propagation);
        Assert.True(table.Entries.Single(e => e.Id == 42).IsReadOnly);
        Assert.False(spaced.IsReadOnly);
        Assert.Equal("/usr", table.Entries.Single(e => e.Id == 42).Root);
    }

    [Fact]
    public void MountPointsUnder_is_deepest_first_and_excludes_siblings_sharing_a_prefix()
    {
        var points = MountTable.Parse(Sample).MountPointsUnder("/tmp/a/");

        // /tmp/ab is not under /tmp/a; the stacked /tmp/a/usr appears twice; at equal depth newest first.
        Assert.Equal(["/tmp/a/usr", "/tmp/a/usr", "/tmp/a/with space", "/tmp/a"], points);
        Assert.Equal(43, MountTable.Parse(Sample).MountsUnder("/tmp/a")[0].Id);
    }

    [Fact]
    public void A_real_mount_appears_in_the_table_and_goes_when_unmounted()
    {
        var dir = TestInstance.NewTempDir("thaw-mt-");
        var target = Path.Combine(dir, "a b");
        Directory.CreateDirectory(target);
        try
        {
            Thaw.Linux.Mounts.Mounts.Tmpfs(target, 1 << 20, (UnixFileMode)0b111_101_101);
            Assert.True(MountTable.Read().IsMountPoint(target));
            Assert.Equal([target], MountTable.Read().MountPointsUnder(dir));

            Assert.True(Thaw.Linux.Mounts.Mounts.Unmount(target));
            Assert.False(MountTable.Read().IsMountPoint(target));
            Assert.False(Thaw.Linux.Mounts.Mounts.Unmount(target)); // EINVAL: not mounted
        }
        finally
        {
            Thaw.Linux.Mounts.Mounts.UnmountTree(dir);
            Directory.Delete(dir, recursive: true);
        }
    }
}
