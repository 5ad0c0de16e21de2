using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;

namespace Thaw.Tests.Linux.Cgroups;

public class CgroupDynmodsTests
{
    [Theory]
    [InlineData("rw,nsdelegate,memory_recursiveprot", "nsdelegate,memory_recursiveprot,favordynmods")]
    [InlineData("rw", "favordynmods")]
    [InlineData("rw,favordynmods,nsdelegate", "nsdelegate,favordynmods")]
    public void The_remount_keeps_every_other_super_option(string current, string remountWith) =>
        Assert.Equal(remountWith, CgroupDynmods.WithOption(current));

    [Fact]
    public void A_remount_keeps_the_mounts_own_flags() =>
        Assert.Equal(2UL | 4 | 8 | (1 << 21), Thaw.Linux.Mounts.Mounts.MountFlagsOf("rw,nosuid,nodev,noexec,relatime"));

    [Fact]
    public void Enable_turns_it_on_once_and_leaves_the_mount_as_it_was()
    {
        var before = MountTable.Read().Entries.FirstOrDefault(m => m.FsType == "cgroup2");
        if (before is null)
        {
            Assert.Equal(CgroupDynmods.Outcome.NoCgroup2Mount, CgroupDynmods.Enable()); // a pure v1 host: nothing to do
            return;
        }
        CgroupDynmods.Enable();
        var after = MountTable.Read().Entries.First(m => m.FsType == "cgroup2");
        Assert.Contains(CgroupDynmods.Option, after.SuperOptionList);
        Assert.Equal(before.MountOptions, after.MountOptions);
        Assert.Equal(before.SuperOptionList.Append(CgroupDynmods.Option).Distinct().Order(), after.SuperOptionList.Order());
        Assert.Equal(CgroupDynmods.Outcome.AlreadyOn, CgroupDynmods.Enable());
    }
}
