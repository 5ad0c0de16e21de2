namespace Thaw.Service.Scheduling;

/// <summary>Idle sandboxes over time: paused by the freezer (and measured then), removed after their keep-alive; and how any sandbox is stopped.</summary>
public sealed partial class HandlerCache
{
    private void Stop(WarmSandbox sandbox)
    {
        var task = Task.Run(async () =>
        {
            try { await sandbox.StopAsync().ConfigureAwait(false); }
            catch (Exception e) { Log.StopFailed(_logger, sandbox.Id, e); }
        });
        lock (_stopping)
        {
            _stopping.RemoveAll(t => t.IsCompleted);
            _stopping.Add(task);
            sandbox.Pool.Stopping.RemoveAll(t => t.IsCompleted);
            sandbox.Pool.Stopping.Add(task);
        }
    }

    /// <summary>Pauses sandboxes idle for <see cref="HandlerCacheOptions.FreezeAfter"/>, removes those past their keep-alive.</summary>
    private async Task JanitorAsync()
    {
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(_options.FreezeAfter.TotalMilliseconds / 4, 10, 250));
        using var timer = new PeriodicTimer(tick);
        try
        {
            while (await timer.WaitForNextTickAsync(_shutdown.Token).ConfigureAwait(false))
            {
                // One failed sweep must not end the janitor: idle sandboxes would then never freeze or expire.
                try { await SweepIdleAsync().ConfigureAwait(false); }
                catch (Exception e) { Log.SweepFailed(_logger, e); }
            }
        }
        catch (OperationCanceledException) { }
    }

    internal async Task SweepIdleAsync()
    {
        List<WarmSandbox> expired = [];
        List<WarmSandbox> freeze = [];
        List<WarmSandbox> measure = [];
        lock (_lock)
        {
            long now = Environment.TickCount64;
            long measureEvery = (long)_options.MeasureInterval.TotalMilliseconds;
            foreach (var pool in _pools.Values)
            {
                long keepAlive = (long)pool.KeepAlive(_options).TotalMilliseconds;
                for (int i = pool.Idle.Count - 1; i >= 0; i--)
                {
                    var sandbox = pool.Idle[i];
                    long idle = now - sandbox.IdleSince;
                    if (idle >= keepAlive || !sandbox.Python.IsServing)
                    {
                        pool.Idle.RemoveAt(i);
                        expired.Add(RetireLocked(sandbox));
                        _expired++;
                    }
                    else if (!sandbox.Frozen && idle >= _options.FreezeAfter.TotalMilliseconds && sandbox.Python.Sandbox.Cgroup.CanFreeze)
                    {
                        pool.Idle.RemoveAt(i); // out of reach of calls and eviction while it freezes
                        freeze.Add(sandbox);
                    }
                    else if (!sandbox.Frozen && !sandbox.Python.Sandbox.Cgroup.CanFreeze && (sandbox.MeasuredBytes is null || now - sandbox.MeasuredAt >= measureEvery))
                        measure.Add(sandbox); // no freezer: it may still grow while idle
                }
            }
        }
        foreach (var sandbox in expired)
            Stop(sandbox);
        foreach (var sandbox in measure)
            if (Measure(sandbox) is { } usage)
                lock (_lock)
                    MeasuredLocked(sandbox, usage);
        foreach (var sandbox in freeze)
        {
            bool frozen = false;
            long? usage = null;
            try
            {
                // Measured once it is frozen: it cannot grow again until a call thaws it.
                usage = await Task.Run(() =>
                {
                    sandbox.Python.Sandbox.Cgroup.Freeze();
                    frozen = true;
                    return Measure(sandbox);
                }).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or TimeoutException or Thaw.Linux.LinuxException)
            {
                Log.FreezeFailed(_logger, sandbox.Id, e);
            }
            bool stop = false;
            lock (_lock)
            {
                sandbox.Frozen = frozen;
                if (frozen)
                    _freezes++;
                if (usage is { } bytes)
                    MeasuredLocked(sandbox, bytes);
                var pool = sandbox.Pool;
                if (pool.Removed || _disposed || sandbox.Deployment.Version != pool.Current.Version)
                {
                    RetireLocked(sandbox);
                    stop = true;
                }
                else if (!HandToWaiterLocked(pool, sandbox))
                {
                    // Back in recency order: the idle list is oldest first.
                    int at = pool.Idle.FindIndex(s => s.IdleSince > sandbox.IdleSince);
                    pool.Idle.Insert(at < 0 ? pool.Idle.Count : at, sandbox);
                }
            }
            if (stop)
                Stop(sandbox);
        }
    }
}
