using Thaw.Runtimes.Python;
using Thaw.Service.Functions;

namespace Thaw.Service.Scheduling;

/// <summary>
/// A sandbox in the handler cache: serves calls of one deployment of one function only, one at a
/// time; paused by the freezer when idle. Its state is guarded by the handler cache's lock.
/// </summary>
public sealed class WarmSandbox
{
    internal WarmSandbox(FunctionPool pool, Grant grant, PythonSandbox python, double coldStartMs)
    {
        Pool = pool;
        Deployment = grant.Deployment;
        ChargedBytes = grant.ChargedBytes;
        Python = python;
        ColdStartMs = coldStartMs;
    }

    internal FunctionPool Pool { get; }

    public Deployment Deployment { get; }

    public PythonSandbox Python { get; }

    public string Id => Python.Sandbox.Id;

    /// <summary>What it counts against the node's memory budget now (its limit, or its measured usage plus headroom).</summary>
    public long ChargedBytes { get; internal set; }

    /// <summary>Its cgroup's memory usage when last measured (idle, off the call path), or null before the first measurement.</summary>
    public long? MeasuredBytes { get; internal set; }

    /// <summary>When it was last measured (Environment.TickCount64).</summary>
    internal long MeasuredAt { get; set; }

    /// <summary>Off the books (evicted, expired, stopped): a late measurement must not change the budget.</summary>
    internal bool Retired { get; set; }

    /// <summary>How long its cold start took (request to handler ready): Greedy-Dual's cost.</summary>
    public double ColdStartMs { get; }

    /// <summary>Greedy-Dual priority (clock + frequency × cost / size); the lowest idle one is evicted first.</summary>
    internal double Priority { get; set; }

    internal long IdleSince { get; set; }

    /// <summary>Paused by the freezer; thawed by the call that takes it.</summary>
    internal bool Frozen { get; set; }

    /// <summary>Thaws it if paused (a frozen task cannot exit on v1), then stops it and returns its resources.</summary>
    internal async Task StopAsync()
    {
        try
        {
            if (Python.Sandbox.Cgroup.CanFreeze)
                Python.Sandbox.Cgroup.Thaw();
        }
        // Whatever the thaw hit, the stop goes on: the sandbox's release kills through its cgroup (thawing it) too.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TimeoutException or Thaw.Linux.LinuxException) { }
        await Python.DisposeAsync().ConfigureAwait(false);
    }
}
