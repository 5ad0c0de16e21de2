namespace Thaw.Service.Scheduling;

/// <summary>The function's queue is full (HTTP 429 with Retry-After).</summary>
public sealed class QueueFullException(string function, int queued, TimeSpan retryAfter)
    : Exception($"function '{function}' is at its concurrency limit and {queued} calls are already queued; try again later")
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>
/// A new sandbox would take the node over its memory budget, and evicting every idle sandbox would
/// not make it fit (HTTP 503; so nothing was evicted). <see cref="RetryAfter"/> is null when it would
/// not fit on an empty node either.
/// </summary>
public sealed class MemoryBudgetException(string function, long neededBytes, long usedBytes, long evictableBytes, long budgetBytes, TimeSpan? retryAfter)
    : Exception($"function '{function}' needs {neededBytes >> 20} MiB for a new sandbox, but the node's memory budget ({budgetBytes >> 20} MiB) " +
        $"has {Math.Max(0, budgetBytes - usedBytes) >> 20} MiB left and its idle sandboxes hold only {evictableBytes >> 20} MiB to evict" +
        (retryAfter is null ? "; it does not fit the budget beside the zygotes even on an idle node" : ""))
{
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>No such function, or it was removed while the call waited (HTTP 404).</summary>
public sealed class FunctionGoneException(string function, bool removed = false)
    : Exception(removed ? $"function '{function}' was removed while the call waited" : $"no function named '{function}' (deploy it with `thaw deploy DIR`)");
