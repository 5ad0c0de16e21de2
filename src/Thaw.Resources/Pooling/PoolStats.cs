namespace Thaw.Resources.Pooling;

/// <summary>A snapshot of one pool: what it holds and how the request path fared against it.</summary>
public sealed record PoolStats(
    string Name,
    int Target,
    int Level,
    int InUse,
    long Claims,
    long Misses,
    long Created,
    long Recycled,
    long Destroyed,
    double CreateMedianMs,
    double CreateP99Ms)
{
    public double HitRate => Claims == 0 ? 1 : 1 - (double)Misses / Claims;

    /// <summary>
    /// Resources that exist: idle, lent, and released ones waiting to be recycled (which still hold
    /// their fds and kernel objects, though they are neither idle nor lent).
    /// </summary>
    public long Live => Created - Destroyed;
}
