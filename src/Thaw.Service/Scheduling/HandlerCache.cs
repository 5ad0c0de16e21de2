using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Thaw.Runtimes.Python;
using Thaw.Service.Functions;

namespace Thaw.Service.Scheduling;

/// <summary>
/// SOCK's handler cache: warm sandboxes kept per function and reused for later calls of that
/// function only, one call at a time each, up to the function's concurrency; calls beyond it wait
/// in a bounded queue. Idle sandboxes are paused with the freezer and removed after their
/// keep-alive (scale to zero). The node's memory budget counts every sandbox's memory limit and the
/// zygotes' memory; a cold start that would go over it evicts idle sandboxes by Greedy-Dual
/// (FaasCache: clock + frequency × cold-start cost / size, so a big, rarely called, cheap-to-start
/// sandbox goes before a small, hot, expensive one, which plain LRU cannot tell apart), or is refused.
/// </summary>
/// <remarks>
/// One lock guards every function's state: each step under it is a few list operations, and one
/// lock makes cross-function eviction simple and deadlock-free. Nothing slow runs under it: starts,
/// freezes, thaws and stops happen outside.
/// </remarks>
public sealed partial class HandlerCache : IAsyncDisposable
{
    /// <summary>
    /// Starts one sandbox of a deployment (the Python runtime, with the function's log attached); a
    /// start for a call sends that call's event ahead (see <see cref="FirstCall"/>).
    /// </summary>
    public delegate Task<PythonSandbox> Starter(Deployment deployment, ReadOnlyMemory<byte>? firstEvent);

    private readonly Lock _lock = new();
    // Changed under the lock; read without it only by Get (each call looks its function up first).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, FunctionPool> _pools = new(StringComparer.Ordinal);
    private readonly HandlerCacheOptions _options;
    private readonly Starter _start;
    private readonly Func<long> _zygoteBytes;
    private readonly ILogger _logger;
    private readonly List<Task> _stopping = [];
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Task _janitor;
    private long _reservedBytes;
    private long _limitBytes;
    private long _measuredBytes;
    private int _measuredSandboxes;
    private double _clock;
    private long _evictions;
    private long _expired;
    private long _rejected;
    private long _budgetRefusals;
    private long _freezes;
    private long _thaws;
    private bool _disposed;

    /// <summary>Starts the janitor; <paramref name="zygoteBytes"/> gives the zygotes' memory now (a cached figure: it is read under the lock).</summary>
    public HandlerCache(HandlerCacheOptions options, Starter start, Func<long> zygoteBytes, ILogger logger)
    {
        options.Validate();
        _options = options;
        _start = start;
        _zygoteBytes = zygoteBytes;
        _logger = logger;
        _janitor = Task.Run(JanitorAsync);
    }

    public HandlerCacheOptions Options => _options;

    /// <summary>The function's pool, without the lock (its <see cref="FunctionPool.Current"/> is one reference, swapped by a deploy).</summary>
    public FunctionPool? Get(string name) => _pools.GetValueOrDefault(name);

    /// <summary>
    /// Makes <paramref name="deployment"/> the function's current version: new calls get sandboxes
    /// of it; idle sandboxes of older versions stop now, busy ones when their call ends (drain).
    /// </summary>
    public void Deploy(Deployment deployment)
    {
        List<WarmSandbox> stale = [];
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_pools.TryGetValue(deployment.Name, out var pool))
            {
                _pools[deployment.Name] = new FunctionPool(deployment);
                return;
            }
            if (pool.Current.Version != deployment.Version)
                pool.MeasuredBytes = null; // new code: its sandboxes may be nothing like the old ones
            pool.Current = deployment;
            foreach (var sandbox in pool.Idle.ToList())
                if (sandbox.Deployment.Version != deployment.Version)
                {
                    pool.Idle.Remove(sandbox);
                    stale.Add(RetireLocked(sandbox));
                }
        }
        foreach (var sandbox in stale)
            Stop(sandbox);
    }

    /// <summary>
    /// Removes the function: queued calls fail, idle sandboxes stop, busy ones stop when their call
    /// ends (waited for up to <see cref="HandlerCacheOptions.DrainTimeout"/>). Returns how many sandboxes it had.
    /// </summary>
    public async Task<int> RemoveAsync(string name)
    {
        FunctionPool? pool;
        List<WarmSandbox> idle;
        int had;
        lock (_lock)
        {
            if (!_pools.TryRemove(name, out pool))
                return 0;
            pool.Removed = true;
            had = pool.Instances;
            foreach (var waiter in pool.Waiters)
                waiter.TrySetException(new FunctionGoneException(name, removed: true));
            pool.Waiters.Clear();
            idle = [.. pool.Idle.Select(RetireLocked)];
            pool.Idle.Clear();
            if (pool.Instances == 0)
                pool.Drained.TrySetResult();
        }
        foreach (var sandbox in idle)
            Stop(sandbox);
        try
        {
            await pool.Drained.Task.WaitAsync(_options.DrainTimeout).ConfigureAwait(false);
            // Drained counts them off the books; "removed" means stopped, their resources back in the pools.
            Task[] stopping;
            lock (_stopping)
                stopping = [.. pool.Stopping];
            await Task.WhenAll(stopping).WaitAsync(_options.DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException) { Log.DrainTimedOut(_logger, name, _options.DrainTimeout.TotalSeconds); }
        return had;
    }

    /// <summary>
    /// A sandbox for one call of <paramref name="name"/>: an idle warm one (thawed if paused), else a
    /// new one if the function is under its concurrency (evicting idle sandboxes of any function if
    /// the memory budget needs it), else a place in its queue.
    /// </summary>
    /// <exception cref="FunctionGoneException">No such function (or it was removed while the call waited).</exception>
    /// <exception cref="QueueFullException">All its sandboxes are busy and its queue is full.</exception>
    /// <exception cref="MemoryBudgetException">A new sandbox does not fit the node's memory budget.</exception>
    /// <remarks>
    /// <paramref name="eventJson"/>, the call's event, goes to a sandbox started for the call ahead of
    /// its ready frame; the caller then invokes it with the same memory (see <see cref="FirstCall"/>).
    /// </remarks>
    public async Task<SandboxLease> AcquireAsync(string name, CancellationToken token = default, ReadOnlyMemory<byte>? eventJson = null)
    {
        long requested = Stopwatch.GetTimestamp();
        var (pool, sandbox, grant) = await TakeOrWaitAsync(name, warm: true, token).ConfigureAwait(false);
        double queueMs = Stopwatch.GetElapsedTime(requested).TotalMilliseconds;
        if (sandbox is not null)
            return await WarmLeaseAsync(sandbox, queueMs).ConfigureAwait(false);
        return await ColdLeaseAsync(pool, grant!.Value, queueMs, forCall: true, eventJson).ConfigureAwait(false);
    }

    /// <summary>
    /// For one call of <paramref name="name"/>: an idle sandbox (with <paramref name="warm"/>), else a
    /// slot to start one if the function is under its concurrency (counted against the memory budget
    /// now), else whichever of the two its turn in the queue brings. Throws as <see cref="AcquireAsync"/> does.
    /// </summary>
    private async Task<(FunctionPool Pool, WarmSandbox? Sandbox, Grant? Start)> TakeOrWaitAsync(string name, bool warm, CancellationToken token)
    {
        WarmSandbox? sandbox = null;
        Grant? start = null;
        LinkedListNode<TaskCompletionSource<Handoff>>? queued = null;
        FunctionPool pool;
        List<WarmSandbox> evicted = [];
        lock (_lock)
        {
            if (_disposed || !_pools.TryGetValue(name, out pool!))
                throw new FunctionGoneException(name);
            pool.Frequency++;
            if (warm)
                sandbox = TakeIdleLocked(pool);
            if (sandbox is null)
            {
                if (pool.Instances < pool.Current.Manifest.Concurrency)
                    start = GrantSlotLocked(pool, evicted);
                else if (pool.Waiters.Count >= _options.QueueLength)
                {
                    _rejected++;
                    throw new QueueFullException(name, pool.Waiters.Count, _options.RetryAfter);
                }
                else
                    queued = pool.Waiters.AddLast(new TaskCompletionSource<Handoff>(TaskCreationOptions.RunContinuationsAsynchronously));
            }
        }
        foreach (var victim in evicted)
            Stop(victim);
        if (queued is not null)
            (sandbox, start) = await WaitInQueueAsync(pool, queued, token).ConfigureAwait(false);
        return (pool, sandbox, start);
    }

    /// <summary>
    /// Gives a call's sandbox back: to the next queued call, to the idle list, or, when it is broken
    /// (<paramref name="healthy"/> false: timed out, crashed), outdated or not to be kept, stopped.
    /// </summary>
    /// <returns>
    /// With <paramref name="deferStop"/>, the stop of a sandbox that is not kept, for the caller to
    /// run once its reply is sent (teardown then does not compete with the reply); null when there is none.
    /// </returns>
    public Action? Release(SandboxLease lease, bool healthy, bool deferStop = false)
    {
        var sandbox = lease.Sandbox;
        var pool = sandbox.Pool;
        List<WarmSandbox> evicted = [];
        WarmSandbox? stop = null;
        lock (_lock)
        {
            pool.Busy--;
            sandbox.IdleSince = Environment.TickCount64;
            // Greedy-Dual: each use lifts the sandbox above the clock in proportion to how often its
            // function is called and how costly its start was, per MiB it holds.
            sandbox.Priority = _clock + pool.Frequency * Math.Max(sandbox.ColdStartMs, 0.001) / Math.Max(1.0, sandbox.ChargedBytes / (double)(1 << 20));
            bool current = healthy && !pool.Removed && !_disposed && sandbox.Deployment.Version == pool.Current.Version;
            if (current && HandToWaiterLocked(pool, sandbox))
                return null;
            if (!current || pool.KeepAlive(_options) == TimeSpan.Zero)
            {
                stop = RetireLocked(sandbox);
                GrantWaitersLocked(pool, evicted); // its slot may start a sandbox for a queued call
            }
            else
                pool.Idle.Add(sandbox);
        }
        foreach (var victim in evicted)
            Stop(victim);
        if (stop is null)
            return null;
        if (deferStop)
            return () => Stop(stop);
        Stop(stop);
        return null;
    }

    /// <summary>
    /// Starts a sandbox of the function in the background for the next call (after one was killed
    /// for a timeout): skipped when the function is at its concurrency, keeps nothing warm, or the
    /// budget has no room without evicting.
    /// </summary>
    public void Replace(string name)
    {
        FunctionPool? pool;
        Grant grant;
        List<WarmSandbox> evicted = [];
        lock (_lock)
        {
            if (_disposed || !_pools.TryGetValue(name, out pool) || pool.Instances >= pool.Current.Manifest.Concurrency ||
                pool.KeepAlive(_options) == TimeSpan.Zero ||
                _reservedBytes + _zygoteBytes() + ChargeFor(pool.Current.Manifest.MemoryBytes, pool.MeasuredBytes) > _options.MemoryBudgetBytes)
                return;
            grant = GrantSlotLocked(pool, evicted);
        }
        foreach (var victim in evicted)
            Stop(victim);
        _ = Task.Run(async () =>
        {
            SandboxLease lease;
            try
            {
                lease = await ColdLeaseAsync(pool, grant, 0, forCall: false, firstEvent: null).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.ReplaceFailed(_logger, name, e);
                return;
            }
            Release(lease, healthy: true);
        });
    }

    /// <summary>A snapshot for /v1/stats and /metrics.</summary>
    public HandlerCacheStats Stats()
    {
        lock (_lock)
        {
            var functions = _pools.Values.Select(p => new FunctionPoolStats(p.Name, p.Current.Version, p.Instances, p.Busy,
                p.Idle.Count(s => !s.Frozen), p.Idle.Count(s => s.Frozen), p.Waiters.Count, p.ColdCalls, p.WarmCalls)).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            return new HandlerCacheStats(functions, _options.Accounting, _options.OvercommitFactor, _reservedBytes, _limitBytes, _measuredBytes, _measuredSandboxes,
                _zygoteBytes(), _options.MemoryBudgetBytes, _evictions, _expired, _rejected, _budgetRefusals, _freezes, _thaws);
        }
    }

    private async Task<SandboxLease> WarmLeaseAsync(WarmSandbox sandbox, double queueMs)
    {
        double thawMs = 0;
        if (sandbox.Frozen)
        {
            long t = Stopwatch.GetTimestamp();
            try
            {
                await Task.Run(sandbox.Python.Sandbox.Cgroup.Thaw).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or TimeoutException or Thaw.Linux.LinuxException)
            {
                // A sandbox that cannot be resumed is no use: replace it with a cold start.
                Log.ThawFailed(_logger, sandbox.Id, e);
                var pool = sandbox.Pool;
                Grant grant;
                List<WarmSandbox> evicted = [];
                lock (_lock)
                {
                    sandbox.Frozen = false;
                    pool.Busy--;
                    Stop(RetireLocked(sandbox)); // before the slot, which may be refused
                    grant = GrantSlotLocked(pool, evicted);
                }
                foreach (var victim in evicted)
                    Stop(victim);
                return await ColdLeaseAsync(pool, grant, queueMs, forCall: true, firstEvent: null).ConfigureAwait(false);
            }
            thawMs = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            lock (_lock)
            {
                sandbox.Frozen = false;
                _thaws++;
            }
        }
        lock (_lock)
            sandbox.Pool.WarmCalls++;
        return new SandboxLease(sandbox, cold: false, queueMs, startMs: 0, thawMs);
    }

    /// <summary>
    /// Starts a sandbox in the slot <paramref name="grant"/> counted; a failed start
    /// gives the slot back (or to the next queued call). <paramref name="forCall"/> is false for a
    /// sandbox started ahead (a replacement), which is not a cold call.
    /// </summary>
    private async Task<SandboxLease> ColdLeaseAsync(FunctionPool pool, Grant grant, double queueMs, bool forCall, ReadOnlyMemory<byte>? firstEvent)
    {
        long started = Stopwatch.GetTimestamp();
        PythonSandbox python;
        try
        {
            python = await _start(grant.Deployment, firstEvent).ConfigureAwait(false);
        }
        catch
        {
            List<WarmSandbox> evicted = [];
            lock (_lock)
            {
                ReturnSlotLocked(pool, grant);
                // The slot was this call's; a queued call may use it (its start may work, or fail the same way).
                GrantWaitersLocked(pool, evicted);
            }
            foreach (var victim in evicted)
                Stop(victim);
            throw;
        }
        double startMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var sandbox = new WarmSandbox(pool, grant, python, startMs);
        lock (_lock)
        {
            pool.Busy++;
            if (forCall)
                pool.ColdCalls++;
        }
        return new SandboxLease(sandbox, cold: true, queueMs, startMs, thawMs: 0);
    }

    private async Task<(WarmSandbox? Sandbox, Grant? Start)> WaitInQueueAsync(FunctionPool pool, LinkedListNode<TaskCompletionSource<Handoff>> queued, CancellationToken token)
    {
        try
        {
            var got = await queued.Value.Task.WaitAsync(token).ConfigureAwait(false);
            return (got.Sandbox, got.Start);
        }
        catch (OperationCanceledException)
        {
            // The caller left. If the hand-over raced the cancellation, give back what was handed.
            WarmSandbox? handed = null;
            lock (_lock)
            {
                if (queued.List is not null)
                    pool.Waiters.Remove(queued);
                else if (queued.Value.Task.IsCompletedSuccessfully)
                {
                    var got = queued.Value.Task.Result;
                    handed = got.Sandbox;
                    if (got.Start is { } slot)
                        ReturnSlotLocked(pool, slot);
                }
            }
            if (handed is not null)
                Release(new SandboxLease(handed, false, 0, 0, 0), healthy: true);
            throw;
        }
    }

    /// <summary>The most recently used idle sandbox of the current version, or null; older versions' idle ones go.</summary>
    private WarmSandbox? TakeIdleLocked(FunctionPool pool)
    {
        for (int i = pool.Idle.Count - 1; i >= 0; i--)
        {
            var sandbox = pool.Idle[i];
            pool.Idle.RemoveAt(i);
            if (sandbox.Deployment.Version == pool.Current.Version && sandbox.Python.IsServing)
            {
                pool.Busy++;
                return sandbox;
            }
            // Outdated (redeployed) or dead while idle: it goes.
            Stop(RetireLocked(sandbox));
        }
        return null;
    }

    /// <summary>Queued calls get a slot to start a sandbox, as many as the function's concurrency has room for.</summary>
    private void GrantWaitersLocked(FunctionPool pool, List<WarmSandbox> evicted)
    {
        while (pool.Waiters.First is { } first && pool.Instances < pool.Current.Manifest.Concurrency && !pool.Removed)
        {
            pool.Waiters.RemoveFirst();
            try
            {
                first.Value.TrySetResult(new Handoff(null, GrantSlotLocked(pool, evicted)));
            }
            catch (MemoryBudgetException e)
            {
                first.Value.TrySetException(e);
            }
        }
    }

    private bool HandToWaiterLocked(FunctionPool pool, WarmSandbox sandbox)
    {
        while (pool.Waiters.First is { } first)
        {
            pool.Waiters.RemoveFirst();
            if (first.Value.TrySetResult(new Handoff(sandbox, null)))
            {
                pool.Busy++;
                return true;
            }
        }
        return false;
    }

    /// <summary>Stops every sandbox (idle now; busy ones as their calls end, which the HTTP server's shutdown waited for).</summary>
    public async ValueTask DisposeAsync()
    {
        List<WarmSandbox> idle = [];
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var pool in _pools.Values)
            {
                pool.Removed = true;
                foreach (var waiter in pool.Waiters)
                    waiter.TrySetException(new FunctionGoneException(pool.Name, removed: true));
                pool.Waiters.Clear();
                idle.AddRange(pool.Idle.Select(RetireLocked));
                pool.Idle.Clear();
            }
        }
        await _shutdown.CancelAsync().ConfigureAwait(false);
        await _janitor.ConfigureAwait(false);
        foreach (var sandbox in idle)
            Stop(sandbox);
        Task[] stopping;
        lock (_stopping)
            stopping = [.. _stopping];
        await Task.WhenAll(stopping).ConfigureAwait(false);
        _shutdown.Dispose();
    }
}
