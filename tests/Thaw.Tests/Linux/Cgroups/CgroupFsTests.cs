using Thaw.Linux;
using Thaw.Linux.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Linux.Cgroups;

public sealed class CgroupFsTests : IDisposable
{
    private readonly CgroupHierarchy _hierarchy = CgroupHierarchy.Detect();
    private readonly TestInstance _instance = new("thawc");
    private string Name => _instance.Naming.CgroupName;
    private readonly List<string> _dirs = [];
    private readonly ChildProcesses _children = new();

    private string NewCgroup(CgroupController controller)
    {
        // On cgroup2 a child has a controller's files only if the parent enables it, as thawd does
        // in the mount's root (a systemd host has them on there already).
        if (controller.Version == 2 && controller.Name != "freezer")
        {
            string control = Path.Combine(controller.MountPath, "cgroup.subtree_control");
            if (!CgroupFs.Read(control).Split(' ').Contains(controller.Name))
                CgroupFs.Write(control, "+" + controller.Name);
        }
        string dir = Path.Combine(controller.MountPath, Name + "-" + _dirs.Count);
        CgroupFs.CreateDirectory(dir);
        _dirs.Add(dir);
        return dir;
    }

    [Fact]
    public void A_refused_writeNames_the_file_the_value_and_the_errno()
    {
        var memory = _hierarchy.Find("memory")!;
        string file = Path.Combine(NewCgroup(memory), memory.Version == 1 ? "memory.limit_in_bytes" : "memory.max");

        var e = Assert.Throws<LinuxException>(() => CgroupFs.Write(file, "lots"));

        Assert.Equal(22, e.Errno);
        Assert.StartsWith($"write({file}, lots) failed: EINVAL", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateDirectory_refuses_an_existing_cgroup_unless_told_it_is_fine()
    {
        string dir = NewCgroup(_hierarchy.Find("pids")!);

        var e = Assert.Throws<LinuxException>(() => CgroupFs.CreateDirectory(dir));
        Assert.Equal(17, e.Errno);
        CgroupFs.CreateDirectory(dir, existOk: true);
    }

    [Fact]
    public void Joined_process_is_listed_then_killed_and_the_cgroup_removed()
    {
        string dir = NewCgroup(_hierarchy.Find("pids")!);
        var sleep = _children.Sleep();

        CgroupFs.Join(dir, sleep.Id);
        Assert.Equal([sleep.Id], CgroupFs.ReadProcs(dir));
        var busy = Assert.Throws<LinuxException>(() => CgroupFs.RemoveDirectory(dir, TimeSpan.FromMilliseconds(20)));
        Assert.Equal(16, busy.Errno);

        Assert.True(CgroupFs.KillAll(dir, TimeSpan.FromSeconds(5)));
        Assert.True(sleep.WaitForExit(5000));
        Assert.Equal(137, sleep.ExitCode); // 128 + SIGKILL
        CgroupFs.RemoveDirectory(dir, TimeSpan.FromSeconds(2));
        Assert.False(Directory.Exists(dir));
        CgroupFs.RemoveDirectory(dir, TimeSpan.FromSeconds(2)); // already gone is fine
    }

    [FactOnHost(HostNeed.CgroupV1Freezer)]
    public void V1_freezer_stops_and_resumes_a_running_process() =>
        AssertFreezesAndThaws(NewCgroup(_hierarchy.Find("freezer")!), 1);

    [FactOnHost(HostNeed.Cgroup2)]
    public void V2_freeze_stops_and_resumes_a_running_process_and_cgroup_kill_empties_it()
    {
        // cgroup.freeze and cgroup.kill are core cgroup2 files: even an empty unified tree has them.
        string dir = NewCgroup(new CgroupController("freezer", _hierarchy.UnifiedMount!, 2));
        var counter = AssertFreezesAndThaws(dir, 2);

        Assert.True(CgroupFs.KillAll(dir, TimeSpan.FromSeconds(5)));
        Assert.True(counter.WaitForExit(5000));
        Assert.Empty(CgroupFs.ReadProcs(dir));
    }

    private System.Diagnostics.Process AssertFreezesAndThaws(string dir, int version)
    {
        string file = Path.Combine(Path.GetTempPath(), Name + "-count-" + version);
        var counter = _children.Counter(file);
        CgroupFs.Join(dir, counter.Id);
        Wait.Until(() => File.Exists(file) && File.ReadAllText(file).Trim().Length > 0, "the counter started");

        CgroupFreezer.SetFrozen(dir, version, frozen: true, TimeSpan.FromSeconds(5));
        Assert.True(CgroupFreezer.IsFrozen(dir, version));
        string frozenAt = File.ReadAllText(file);
        Thread.Sleep(150);
        Assert.Equal(frozenAt, File.ReadAllText(file));

        CgroupFreezer.SetFrozen(dir, version, frozen: false, TimeSpan.FromSeconds(5));
        Assert.False(CgroupFreezer.IsFrozen(dir, version));
        Wait.Until(() => File.ReadAllText(file) != frozenAt, "the counter runs again after the thaw");
        File.Delete(file);
        return counter;
    }

    public void Dispose()
    {
        foreach (var dir in _dirs)
        {
            CgroupFs.KillAll(dir, TimeSpan.FromSeconds(2));
            if (File.Exists(Path.Combine(dir, "freezer.state")))
                CgroupFs.Write(Path.Combine(dir, "freezer.state"), "THAWED");
        }
        _children.Dispose();
        _instance.Dispose();
        foreach (var dir in _dirs)
            CgroupFs.RemoveDirectory(dir, TimeSpan.FromSeconds(2));
    }
}
