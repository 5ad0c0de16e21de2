using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Thaw.Resources.Pooling;

/// <summary>
/// The one pool abstraction behind the netns, cgroup and root pools (the Agile Cold Starts idea,
/// generalised): resources are crafted ahead of time by a background worker so that a claim on the
/// request path is a queue pop. A claim on an empty pool crafts synchronously and counts a miss.
/// Released resources are recycled by the same worker, off the request path, and go back to the
/// pool; they are destroyed only when the pool is above its target or on disposal.
/// </summary>
public sealed partial class ResourcePool<T> : IResourcePool, IDisposable where T : class
{
    private readonly IResourceFactory<T> _factory;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<T> _idle = new();
    private readonly ConcurrentQueue<T> _returned = new();
    private readonly ConcurrentDictionary<T, byte> _inUse = new(ReferenceEqualityComparer.Instance);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly LatencyReservoir _createLatency = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _worker;
    private int _target;
    private int _level;
    private long _claims, _misses, _created, _recycled, _destroyed;
    private volatile Exception? _refillError;
    private int _disposed;
    private long _lastClaim;

    /// <summary>
    /// The worker waits this long after the last claim before crafting or recycling: a burst of
    /// claims gets the CPUs first, and the refill (which holds the kernel's rtnl lock for
    /// network namespaces) follows it instead of competing with it.
    /// </summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(1);

    public ResourcePool(string name, IResourceFactory<T> factory, int target, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(target);
        Name = name;
        _factory = factory;
        _target = target;
        _logger = logger;
        _worker = new Thread(Work) { IsBackground = true, Name = "thaw-pool-" + name };
        _worker.Start();
        _wake.Release();
    }

    public string Name { get; }

    public int Target => Volatile.Read(ref _target);

    /// <summary>Takes a resource; crafts one on the caller's thread if the pool is empty (a miss).</summary>
    public T Claim()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Interlocked.Increment(ref _claims);
        if (!_idle.TryDequeue(out var item))
        {
            Interlocked.Increment(ref _misses);
            item = CreateTimed();
        }
        else
        {
            Interlocked.Decrement(ref _level);
        }
        _inUse[item] = 0;
        Volatile.Write(ref _lastClaim, Stopwatch.GetTimestamp());
        _wake.Release();
        return item;
    }

    /// <summary>Gives a resource back; it is recycled in the background, never on the caller's path.</summary>
    public void Release(T item)
    {
        if (!_inUse.TryRemove(item, out _))
        {
            // Disposing the pool destroyed everything still lent out: a late release (a zygote that
            // died while the host shut down) has nothing left to return.
            if (_disposed != 0)
                return;
            throw new InvalidOperationException($"{Name}: released a resource the pool does not lend out");
        }
        if (_disposed != 0)
        {
            DestroyQuietly(item);
            return;
        }
        _returned.Enqueue(item);
        _wake.Release();
    }

    /// <summary>
    /// Idle resources kept at most: released ones go back to the pool up to twice the target, so a
    /// steady claim/release stream recycles instead of churning create-and-destroy (destroying
    /// network namespaces in bulk stalls new creations in the kernel's cleanup_net).
    /// </summary>
    public int MaxIdle => 2 * Target;

    /// <summary>Changes the target; excess idle resources are destroyed by the worker.</summary>
    public void Resize(int target)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(target);
        Volatile.Write(ref _target, target);
        _wake.Release();
    }

    /// <summary>Blocks until the pool holds its target (or <paramref name="timeout"/> passes).</summary>
    public bool WaitUntilFull(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (Volatile.Read(ref _level) < Target)
        {
            if (_refillError is { } error)
                throw new InvalidOperationException($"{Name} pool cannot be filled: {error.Message}", error);
            if (sw.Elapsed > timeout)
                return false;
            Thread.Sleep(1);
        }
        return true;
    }

    /// <summary>The last error the refill worker hit, if the pool is failing to refill.</summary>
    public Exception? RefillError => _refillError;

    public PoolStats Stats()
    {
        var (median, p99) = _createLatency.Percentiles();
        return new PoolStats(Name, Target, Volatile.Read(ref _level), _inUse.Count,
            Interlocked.Read(ref _claims), Interlocked.Read(ref _misses), Interlocked.Read(ref _created),
            Interlocked.Read(ref _recycled), Interlocked.Read(ref _destroyed), median, p99);
    }

    private T CreateTimed()
    {
        long start = Stopwatch.GetTimestamp();
        var item = _factory.Create();
        _createLatency.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        Interlocked.Increment(ref _created);
        return item;
    }

    private void Work()
    {
        var token = _stop.Token;
        int failures = 0;
        while (!token.IsCancellationRequested)
        {
            try { _wake.Wait(failures == 0 ? Timeout.Infinite : Math.Min(1000, 10 << failures), token); }
            catch (OperationCanceledException) { break; }
            while (!token.IsCancellationRequested && Stopwatch.GetElapsedTime(Volatile.Read(ref _lastClaim)) < QuietPeriod)
                Thread.Sleep(QuietPeriod);

            // Returned resources first: recycling is cheaper than crafting.
            while (!token.IsCancellationRequested && _returned.TryDequeue(out var back))
                Recycle(back);

            while (!token.IsCancellationRequested && Volatile.Read(ref _level) > MaxIdle && _idle.TryDequeue(out var extra))
            {
                Interlocked.Decrement(ref _level);
                DestroyQuietly(extra);
            }

            while (!token.IsCancellationRequested && Volatile.Read(ref _level) < Target && _returned.IsEmpty)
            {
                try
                {
                    var item = CreateTimed();
                    _idle.Enqueue(item);
                    Interlocked.Increment(ref _level);
                    _refillError = null;
                    failures = 0;
                }
                catch (Exception e)
                {
                    // Keep trying with backoff: a transient ENOMEM or EBUSY must not leave the pool
                    // empty for good. Claims meanwhile craft synchronously and surface the error.
                    _refillError = e;
                    failures = Math.Min(failures + 1, 7);
                    Log.RefillFailed(_logger, Name, e);
                    break;
                }
            }
        }
    }

    private void Recycle(T item)
    {
        bool ok;
        try { ok = _factory.TryRecycle(item); }
        catch (Exception e)
        {
            Log.RecycleFailed(_logger, Name, e);
            ok = false;
        }
        if (ok && Volatile.Read(ref _level) < MaxIdle && _disposed == 0)
        {
            Interlocked.Increment(ref _recycled);
            _idle.Enqueue(item);
            Interlocked.Increment(ref _level);
        }
        else
        {
            DestroyQuietly(item);
        }
    }

    private void DestroyQuietly(T item)
    {
        try
        {
            _factory.Destroy(item);
            Interlocked.Increment(ref _destroyed);
        }
        catch (Exception e)
        {
            Log.DestroyFailed(_logger, Name, e);
        }
    }

    /// <summary>Stops the worker and destroys every resource the pool made, idle or still lent out.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stop.Cancel();
        _worker.Join();
        while (_returned.TryDequeue(out var back))
            DestroyQuietly(back);
        while (_idle.TryDequeue(out var item))
            DestroyQuietly(item);
        foreach (var item in _inUse.Keys)
            if (_inUse.TryRemove(item, out _))
                DestroyQuietly(item);
        Volatile.Write(ref _level, 0);
        _stop.Dispose();
        _wake.Dispose();
    }
}
