using Thaw.Resources.Pooling;

namespace Thaw.Cli.Bench;

/// <summary>A pool under benchmark, seen through the same Claim/Release a sandbox start would use.</summary>
internal interface IBenchTarget : IDisposable
{
    object Claim();

    void Release(object item);

    PoolStats Stats();

    bool WaitUntilFull(TimeSpan timeout);
}

/// <summary>Adapts a typed pool's claim/release (which may do work at claim, e.g. write limits).</summary>
internal sealed class BenchTarget<T>(ResourcePool<T> pool, Func<T> claim, Action<T> release, IDisposable owner) : IBenchTarget
    where T : class
{
    public object Claim() => claim();

    public void Release(object item) => release((T)item);

    public PoolStats Stats() => pool.Stats();

    public bool WaitUntilFull(TimeSpan timeout) => pool.WaitUntilFull(timeout);

    public void Dispose() => owner.Dispose();
}
