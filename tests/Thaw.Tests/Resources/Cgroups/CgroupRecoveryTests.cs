using Thaw.Linux.Cgroups;
using Thaw.Resources.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Cgroups;

public sealed class CgroupRecoveryTests : CgroupTestClass
{

    [Fact]
    public void Sweep_removes_a_crashed_instances_tree_with_a_live_frozen_process_inside()
    {
        // What a crash leaves: the parent, sandbox cgroups (one nested deeper), a process inside, frozen.
        var hierarchy = CgroupHierarchy.Detect();
        var layout = CgroupLayout.From(hierarchy);
        var sleep = Children.Sleep();
        var expected = new List<string>();
        foreach (var h in layout.Hierarchies)
        {
            string parent = Path.Combine(h.MountPath, Instance.Naming.CgroupName);
            string sandbox = Path.Combine(parent, "sb-7");
            string nested = Path.Combine(sandbox, "inner");
            foreach (var dir in (string[])[parent, sandbox, nested])
                CgroupFs.CreateDirectory(dir);
            CgroupFs.Join(nested, sleep.Id);
            expected.AddRange([parent, sandbox, nested]);
        }
        if (layout.Freezer is { } freezer)
            CgroupFreezer.SetFrozen(Path.Combine(freezer.MountPath, Instance.Naming.CgroupName, "sb-7", "inner"), freezer.Version, true, TimeSpan.FromSeconds(5));

        var removed = CgroupRecovery.Sweep(Instance.Naming, hierarchy);

        Assert.Equal(expected.Order(StringComparer.Ordinal), removed.Order(StringComparer.Ordinal));
        Assert.True(sleep.WaitForExit(5000), "the process in the leftover tree survived");
        Assert.Empty(CgroupAssert.Leftovers(Instance.Naming));
    }

    [Fact]
    public void Sweep_leaves_other_instances_alone()
    {
        var other = new TestInstance("thawc");
        while (other.Naming.Name == Instance.Naming.Name) // three random hex digits: 1 in 4096 is the same name
        {
            other.Dispose();
            other = new TestInstance("thawc");
        }
        var hierarchy = CgroupHierarchy.Detect();
        string theirs = Path.Combine(hierarchy.Find("pids")!.MountPath, other.Naming.CgroupName);
        CgroupFs.CreateDirectory(theirs);
        try
        {
            Assert.Empty(CgroupRecovery.Sweep(Instance.Naming, hierarchy));
            Assert.True(Directory.Exists(theirs));
        }
        finally
        {
            CgroupFs.RemoveDirectory(theirs, TimeSpan.FromSeconds(1));
            other.Dispose();
        }
    }
}
