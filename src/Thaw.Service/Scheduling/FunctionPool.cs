using Thaw.Service.Functions;

namespace Thaw.Service.Scheduling;

/// <summary>
/// One function's share of the handler cache: its current deployment, its idle warm sandboxes
/// (newest last: the most recently used is reused first, its pages are the warmest), how many it
/// has in all, and the calls queued for one. Guarded by the handler cache's lock.
/// </summary>
public sealed class FunctionPool
{
    internal FunctionPool(Deployment deployment) => Current = deployment;

    public string Name => Current.Name;

    public Deployment Current { get; internal set; }

    internal List<WarmSandbox> Idle { get; } = [];

    /// <summary>Calls waiting for a sandbox: handed an idle one, or a slot to start one of a deployment.</summary>
    internal LinkedList<TaskCompletionSource<Handoff>> Waiters { get; } = new();

    /// <summary>Sandboxes alive or starting per version: a version's code stays on disk while any use it.</summary>
    internal Dictionary<int, int> LiveByVersion { get; } = [];

    /// <summary>Sandboxes alive or starting (busy, idle, freezing), counted against the function's concurrency.</summary>
    internal int Instances { get; set; }

    internal int Busy { get; set; }

    internal bool Removed { get; set; }

    /// <summary>Calls since its sandboxes were last all evicted (Greedy-Dual's frequency, as FaasCache counts it).</summary>
    internal long Frequency { get; set; }

    /// <summary>The last measured usage of a sandbox of its current version: what its next sandbox is charged as until measured itself.</summary>
    internal long? MeasuredBytes { get; set; }

    public long ColdCalls { get; internal set; }

    public long WarmCalls { get; internal set; }

    /// <summary>Its sandboxes being stopped (guarded by the handler cache's stop list lock).</summary>
    internal List<Task> Stopping { get; } = [];

    /// <summary>Set when the last sandbox of a removed function is gone.</summary>
    internal TaskCompletionSource Drained { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal TimeSpan KeepAlive(HandlerCacheOptions options) => Current.Manifest.KeepAlive ?? options.KeepAlive;
}
