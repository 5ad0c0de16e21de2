using Thaw.Service.Functions;

namespace Thaw.Service.Scheduling;

/// <summary>The node's memory budget: what a new sandbox counts against it, and Greedy-Dual eviction when it does not fit.</summary>
public sealed partial class HandlerCache
{
    /// <summary>Counts a new sandbox against the function and the budget (evicting idle ones into <paramref name="evicted"/> if needed).</summary>
    private Deployment GrantSlotLocked(FunctionPool pool, List<WarmSandbox> evicted)
    {
        long needed = pool.Current.Manifest.MemoryBytes;
        long zygotes = _zygoteBytes();
        while (_reservedBytes + zygotes + needed > _options.MemoryBudgetBytes)
        {
            WarmSandbox? victim = null;
            foreach (var p in _pools.Values)
                foreach (var s in p.Idle)
                    if (victim is null || s.Priority < victim.Priority)
                        victim = s;
            if (victim is null)
            {
                _budgetRefusals++;
                // What was evicted on the way is off the books already: it stops, though the slot is refused.
                foreach (var gone in evicted)
                    Stop(gone);
                evicted.Clear();
                throw new MemoryBudgetException(pool.Name, needed, _reservedBytes + zygotes, _options.MemoryBudgetBytes, _options.RetryAfter);
            }
            _clock = victim.Priority;
            victim.Pool.Idle.Remove(victim);
            evicted.Add(RetireLocked(victim));
            _evictions++;
            Log.Evicted(_logger, victim.Id, victim.Pool.Name, victim.Priority);
            if (victim.Pool.Instances == 0)
                victim.Pool.Frequency = 0;
        }
        pool.Instances++;
        _reservedBytes += needed;
        pool.LiveByVersion[pool.Current.Version] = pool.LiveByVersion.GetValueOrDefault(pool.Current.Version) + 1;
        return pool.Current;
    }

    /// <summary>Takes a sandbox off the books (its function's count, the budget); the caller stops it.</summary>
    private WarmSandbox RetireLocked(WarmSandbox sandbox)
    {
        ReturnSlotLocked(sandbox.Pool, sandbox.Deployment);
        return sandbox;
    }

    /// <summary>Gives back what <see cref="GrantSlotLocked"/> counted for a sandbox of <paramref name="deployment"/>.</summary>
    private void ReturnSlotLocked(FunctionPool pool, Deployment deployment)
    {
        pool.Instances--;
        _reservedBytes -= deployment.Manifest.MemoryBytes;
        if (pool.LiveByVersion.TryGetValue(deployment.Version, out int live))
        {
            if (live <= 1)
                pool.LiveByVersion.Remove(deployment.Version);
            else
                pool.LiveByVersion[deployment.Version] = live - 1;
        }
        DrainedLocked(pool);
    }

    /// <summary>Whether any sandbox of that version of the function is alive or starting (its code is in use).</summary>
    public bool InUse(string name, int version)
    {
        lock (_lock)
            return _pools.TryGetValue(name, out var pool) && pool.LiveByVersion.ContainsKey(version);
    }

    private static void DrainedLocked(FunctionPool pool)
    {
        if (pool.Removed && pool.Instances == 0)
            pool.Drained.TrySetResult();
    }
}
