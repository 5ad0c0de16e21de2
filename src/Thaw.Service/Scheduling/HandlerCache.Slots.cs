using System.Diagnostics;
using Thaw.Service.Functions;

namespace Thaw.Service.Scheduling;

/// <summary>A counted place for one run of a function that keeps nothing warm (an exec function: a sandbox per call).</summary>
public sealed record FunctionSlot(FunctionPool Pool, Deployment Deployment, double QueueMs)
{
    /// <summary>What the memory budget counted for it.</summary>
    internal long ChargedBytes { get; init; }
}

/// <summary>
/// Slots for exec functions: each call's sandbox counts against the function's concurrency and the
/// node's memory budget (evicting idle sandboxes of any function by Greedy-Dual if it must), and
/// calls beyond the concurrency wait in the same bounded queue, exactly as a Python sandbox's start
/// does; only nothing is kept afterwards, so a queued call is always handed a slot, never a sandbox.
/// </summary>
public sealed partial class HandlerCache
{
    /// <exception cref="FunctionGoneException">No such function (or it was removed while the call waited).</exception>
    /// <exception cref="QueueFullException">All its slots are busy and its queue is full.</exception>
    /// <exception cref="MemoryBudgetException">Its memory does not fit the node's budget.</exception>
    public async Task<FunctionSlot> AcquireSlotAsync(string name, CancellationToken token = default)
    {
        long requested = Stopwatch.GetTimestamp();
        var (pool, handed, grant) = await TakeOrWaitAsync(name, warm: false, token).ConfigureAwait(false);
        if (handed is not null)
        {
            // Redeployed as a Python function while this call waited: its sandbox goes to the next caller.
            Release(new SandboxLease(handed, false, 0, 0, 0), healthy: true);
            throw new FunctionGoneException(name, removed: true);
        }
        lock (_lock)
        {
            pool.Busy++;
            pool.ColdCalls++;
        }
        return new FunctionSlot(pool, grant!.Value.Deployment, Stopwatch.GetElapsedTime(requested).TotalMilliseconds) { ChargedBytes = grant.Value.ChargedBytes };
    }

    /// <summary>Gives the slot back once the call's sandbox is gone: to the next queued call, else off the books.</summary>
    public void ReleaseSlot(FunctionSlot slot)
    {
        var pool = slot.Pool;
        List<WarmSandbox> evicted = [];
        lock (_lock)
        {
            pool.Busy--;
            ReturnSlotLocked(pool, new Grant(slot.Deployment, slot.ChargedBytes));
            GrantWaitersLocked(pool, evicted);
        }
        foreach (var victim in evicted)
            Stop(victim);
    }
}
