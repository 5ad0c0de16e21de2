using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;

namespace Thaw.Tests.Linux.Cgroups;

public class CgroupHierarchyTests
{
    private const string HybridMountInfo = """
        30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
        34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        38 30 0:35 / /sys/fs/cgroup/pids rw,relatime shared:12 master:3 - cgroup cgroup rw,pids,release_agent=/bin/true
        39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
        40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    [Fact]
    public void Parse_unescapes_octal_and_finds_fields_after_the_separator()
    {
        var mounts = MountTable.Parse("36 35 98:0 /my\\040root /mnt/a\\040b\\134c rw shared:1 master:2 - ext3 /dev/my\\011disk rw,errors=continue\n").Entries;

        var m = Assert.Single(mounts);
        Assert.Equal("/my root", m.Root);
        Assert.Equal("/mnt/a b\\c", m.MountPoint);
        Assert.Equal("ext3", m.FsType);
        Assert.Equal("/dev/my\tdisk", m.Source);
        Assert.Equal(["rw", "errors=continue"], m.SuperOptionList);
    }

    [Fact]
    public void V1_controllers_come_from_super_options_including_co_mounted_ones()
    {
        var h = CgroupHierarchy.FromMounts(MountTable.Parse(HybridMountInfo).Entries, _ => "hugetlb\n");

        Assert.Equal(new CgroupController("cpu", "/sys/fs/cgroup/cpu,cpuacct", 1), h.Find("cpu"));
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", h.Find("cpuacct")?.MountPath);
        Assert.Equal(new CgroupController("memory", "/sys/fs/cgroup/memory", 1), h.Find("memory"));
        Assert.Equal("/sys/fs/cgroup/pids", h.Find("pids")?.MountPath);
        Assert.Equal(2, h.Find("hugetlb")?.Version);
        Assert.Null(h.Find("rw"));
        Assert.DoesNotContain(h.Controllers, c => c.Name.Contains('=', StringComparison.Ordinal));
        Assert.Null(h.Find("xattr"));
        Assert.DoesNotContain(h.Controllers, c => c.Name.StartsWith("name=", StringComparison.Ordinal));
        Assert.Equal("/sys/fs/cgroup/unified", h.UnifiedMount);
    }

    [Fact]
    public void V2_wins_only_for_controllers_it_holds()
    {
        var h = CgroupHierarchy.FromMounts(MountTable.Parse(HybridMountInfo).Entries, _ => "memory pids\n");

        Assert.Equal(new CgroupController("memory", "/sys/fs/cgroup/unified", 2), h.Find("memory"));
        Assert.Equal(2, h.Find("pids")?.Version);
        Assert.Equal(1, h.Find("cpu")?.Version);
    }

    [Fact]
    public void Pure_v2_host_has_everything_in_one_tree()
    {
        const string text = "25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        string? asked = null;
        var h = CgroupHierarchy.FromMounts(MountTable.Parse(text).Entries, mount => { asked = mount; return "cpuset cpu io memory hugetlb pids rdma misc\n"; });

        Assert.Equal("/sys/fs/cgroup", asked);
        foreach (var name in (string[])["memory", "cpu", "pids"])
            Assert.Equal(new CgroupController(name, "/sys/fs/cgroup", 2), h.Find(name));
        Assert.Null(h.Find("freezer"));
    }

    [Fact]
    public void ThrowIfMissing_names_each_missing_controller_and_what_was_found()
    {
        var h = CgroupHierarchy.FromMounts(MountTable.Parse(HybridMountInfo).Entries.Where(m => m.MountPoint != "/sys/fs/cgroup/pids"), _ => "");

        var e = Assert.Throws<InvalidOperationException>(() => h.ThrowIfMissing("memory", "pids", "freezer"));

        Assert.StartsWith("cgroup controller(s) missing: pids, freezer. Found: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("memory (v1 at /sys/fs/cgroup/memory)", e.Message, StringComparison.Ordinal);
        Assert.Contains("empty cgroup2 at /sys/fs/cgroup/unified", e.Message, StringComparison.Ordinal);
        h.ThrowIfMissing("memory", "cpu");
    }

    [Fact]
    public void Detect_finds_memory_cpu_and_pids_on_this_host()
    {
        var h = CgroupHierarchy.Detect();

        foreach (var name in (string[])["memory", "cpu", "pids"])
        {
            var c = h.Find(name);
            Assert.NotNull(c);
            Assert.True(File.Exists(Path.Combine(c.MountPath, "cgroup.procs")), $"{c}: no cgroup.procs");
            // The version must match the files the kernel actually offers there.
            string marker = c.Version == 1 ? "cgroup.clone_children" : "cgroup.controllers";
            Assert.True(File.Exists(Path.Combine(c.MountPath, marker)), $"{c}: no {marker}");
        }
    }
}
