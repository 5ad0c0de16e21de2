using System.Runtime.ExceptionServices;
using Thaw.Linux.Cgroups;
using Thaw.Resources.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Cgroups;

/// <summary>
/// One test instance and its child processes per test class; after every test, whatever the
/// class set up is torn down and no "&lt;instance&gt;" cgroup may remain in any hierarchy.
/// </summary>
public abstract class CgroupTestClass : IDisposable
{
    protected TestInstance Instance { get; } = new("thawc");

    internal ChildProcesses Children { get; } = new();

    /// <summary>Removes what the test class made (pool, parents) before the leak check.</summary>
    protected virtual void TearDown() { }

    public void Dispose()
    {
        // Sweep whatever is left even when the teardown failed, so one broken test does not leak
        // cgroups into the host's hierarchies; then report the teardown error or the leak.
        Exception? teardownError = null;
        try { TearDown(); }
        catch (Exception e) { teardownError = e; }
        Children.Dispose();
        var leftovers = CgroupAssert.Leftovers(Instance.Naming);
        if (leftovers.Count > 0)
            CgroupRecovery.Sweep(Instance.Naming, CgroupHierarchy.Detect());
        Instance.Dispose();
        GC.SuppressFinalize(this);
        if (teardownError is not null)
            ExceptionDispatchInfo.Throw(teardownError);
        Assert.Empty(leftovers);
    }
}
