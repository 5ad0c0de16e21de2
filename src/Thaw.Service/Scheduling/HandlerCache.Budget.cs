namespace Thaw.Service.Scheduling;

/// <summary>
/// The node's memory budget: what a sandbox counts against it (its limit, or its measured usage plus
/// headroom), Greedy-Dual eviction when a new one does not fit, and the measurements.
/// </summary>
public sealed partial class HandlerCache
{
    /// <summary>
    /// Counts a new sandbox against the function and the budget. When it does not fit, idle sandboxes
    /// are evicted (lowest Greedy-Dual priority first) into <paramref name="evicted"/> only if evicting
    /// them makes it fit: a call that cannot fit evicts nothing.
    /// </summary>
    private Grant GrantSlotLocked(FunctionPool pool, List<WarmSandbox> evicted)
    {
        long limit = pool.Current.Manifest.MemoryBytes;
        long charge = ChargeFor(limit, pool.MeasuredBytes);
        long zygotes = _zygoteBytes();
        long over = _reservedBytes + zygotes + charge - _options.MemoryBudgetBytes;
        if (over > 0)
        {
            List<WarmSandbox> idle = [.. _pools.Values.SelectMany(p => p.Idle)];
            long evictable = idle.Sum(s => s.ChargedBytes);
            if (evictable < over)
            {
                _budgetRefusals++;
                // Alone on the node it would still not fit: trying again later cannot help.
                bool never = zygotes + charge > _options.MemoryBudgetBytes;
                throw new MemoryBudgetException(pool.Name, charge, _reservedBytes + zygotes, evictable, _options.MemoryBudgetBytes, never ? null : _options.RetryAfter);
            }
            idle.Sort((a, b) => a.Priority.CompareTo(b.Priority));
            foreach (var victim in idle)
            {
                if (over <= 0)
                    break;
                over -= victim.ChargedBytes;
                _clock = victim.Priority;
                victim.Pool.Idle.Remove(victim);
                evicted.Add(RetireLocked(victim));
                _evictions++;
                Log.Evicted(_logger, victim.Id, victim.Pool.Name, victim.Priority);
                if (victim.Pool.Instances == 0)
                    victim.Pool.Frequency = 0;
            }
        }
        pool.Instances++;
        _reservedBytes += charge;
        _limitBytes += limit;
        pool.LiveByVersion[pool.Current.Version] = pool.LiveByVersion.GetValueOrDefault(pool.Current.Version) + 1;
        return new Grant(pool.Current, charge);
    }

    /// <summary>
    /// What a sandbox with memory limit <paramref name="limit"/> counts against the budget, given its
    /// (or its function's) last measured usage: the limit itself in limits mode or before any
    /// measurement, else usage + (limit − usage) / overcommit factor.
    /// </summary>
    private long ChargeFor(long limit, long? measured)
    {
        if (_options.Accounting == MemoryAccounting.Limits || measured is not { } usage)
            return limit;
        usage = Math.Clamp(usage, 0, limit);
        return usage + (long)((limit - usage) / _options.OvercommitFactor);
    }

    /// <summary>
    /// Records a sandbox's measured usage: its charge follows (if it is still counted), and its
    /// function's next sandboxes are charged as it is until they are measured themselves.
    /// </summary>
    private void MeasuredLocked(WarmSandbox sandbox, long usage)
    {
        if (sandbox.Retired)
            return;
        if (sandbox.MeasuredBytes is null)
            _measuredSandboxes++;
        _measuredBytes += usage - (sandbox.MeasuredBytes ?? 0);
        sandbox.MeasuredBytes = usage;
        sandbox.MeasuredAt = Environment.TickCount64;
        long charge = ChargeFor(sandbox.Deployment.Manifest.MemoryBytes, usage);
        _reservedBytes += charge - sandbox.ChargedBytes;
        sandbox.ChargedBytes = charge;
        if (sandbox.Deployment.Version == sandbox.Pool.Current.Version)
            sandbox.Pool.MeasuredBytes = usage;
    }

    /// <summary>Reads a sandbox's memory usage from its cgroup; null when the cgroup cannot tell (it is being torn down).</summary>
    private static long? Measure(WarmSandbox sandbox)
    {
        try
        {
            return sandbox.Python.Sandbox.Cgroup.MemoryUsageBytes();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or Thaw.Linux.LinuxException)
        {
            return null;
        }
    }

    /// <summary>Takes a sandbox off the books (its function's count, the budget); the caller stops it.</summary>
    private WarmSandbox RetireLocked(WarmSandbox sandbox)
    {
        ReturnSlotLocked(sandbox.Pool, new Grant(sandbox.Deployment, sandbox.ChargedBytes));
        if (sandbox.MeasuredBytes is { } measured)
        {
            _measuredBytes -= measured;
            _measuredSandboxes--;
        }
        sandbox.Retired = true;
        return sandbox;
    }

    /// <summary>Gives back what <see cref="GrantSlotLocked"/> counted for <paramref name="grant"/>.</summary>
    private void ReturnSlotLocked(FunctionPool pool, Grant grant)
    {
        pool.Instances--;
        _reservedBytes -= grant.ChargedBytes;
        _limitBytes -= grant.Deployment.Manifest.MemoryBytes;
        if (pool.LiveByVersion.TryGetValue(grant.Deployment.Version, out int live))
        {
            if (live <= 1)
                pool.LiveByVersion.Remove(grant.Deployment.Version);
            else
                pool.LiveByVersion[grant.Deployment.Version] = live - 1;
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
