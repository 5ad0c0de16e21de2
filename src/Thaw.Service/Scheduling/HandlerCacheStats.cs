namespace Thaw.Service.Scheduling;

/// <summary>One function's sandboxes and calls, as the handler cache holds them now.</summary>
public sealed record FunctionPoolStats(string Name, int Version, int Instances, int Busy, int Idle, int Frozen, int Queued, long ColdCalls, long WarmCalls);

/// <summary>The handler cache now: per function, the memory budget, and what it evicted, expired, refused, paused.</summary>
/// <remarks>
/// ReservedBytes is what the sandboxes count against the budget (as Accounting counts them),
/// LimitBytes their memory limits summed, MeasuredBytes the last measured usage of the
/// MeasuredSandboxes that were measured.
/// </remarks>
public sealed record HandlerCacheStats(
    IReadOnlyList<FunctionPoolStats> Functions,
    MemoryAccounting Accounting,
    double OvercommitFactor,
    long ReservedBytes,
    long LimitBytes,
    long MeasuredBytes,
    int MeasuredSandboxes,
    long ZygoteBytes,
    long BudgetBytes,
    long Evictions,
    long Expired,
    long QueueFull,
    long BudgetRefusals,
    long Freezes,
    long Thaws)
{
    public long WarmCalls => Functions.Sum(f => f.WarmCalls);

    public long ColdCalls => Functions.Sum(f => f.ColdCalls);

    /// <summary>Calls served by a warm sandbox, of all calls of the functions there now.</summary>
    public double HitRate => WarmCalls + ColdCalls == 0 ? 0 : (double)WarmCalls / (WarmCalls + ColdCalls);
}
