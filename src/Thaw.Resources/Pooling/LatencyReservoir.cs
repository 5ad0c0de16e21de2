namespace Thaw.Resources.Pooling;

/// <summary>The most recent N latency samples, for median and p99 without unbounded memory.</summary>
public sealed class LatencyReservoir(int capacity = 1024)
{
    private readonly double[] _samples = new double[capacity];
    private readonly Lock _lock = new();
    private long _count;

    public void Add(double milliseconds)
    {
        lock (_lock)
            _samples[_count++ % _samples.Length] = milliseconds;
    }

    public (double Median, double P99) Percentiles()
    {
        double[] copy;
        lock (_lock)
            copy = _samples[..(int)Math.Min(_count, _samples.Length)];
        if (copy.Length == 0)
            return (0, 0);
        Array.Sort(copy);
        return (Percentile(copy, 0.5), Percentile(copy, 0.99));
    }

    /// <summary>Nearest-rank percentile of sorted samples.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) return 0;
        int rank = (int)Math.Ceiling(p * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}
