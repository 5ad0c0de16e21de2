namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// How many children a zygote should keep parked: the most fork claims it saw within one second
/// over the recent past, between a floor and a ceiling (an adaptive prewarm pool). A burst of N cold
/// starts raises the target to N at once, so the next burst of that size finds N children waiting;
/// once such bursts stop, the target falls back after <see cref="ParkPolicy.Memory"/>.
/// </summary>
/// <remarks>
/// Per-second buckets in a ring, each holding the most claims seen within any one second (a sliding
/// window of the claims' times, so a burst that straddles a clock second counts whole) that ended in
/// it; the peak is a scan of at most a few hundred ints. Thread-safe.
/// </remarks>
internal sealed class ParkDemand(ParkPolicy policy, Func<long>? clock = null)
{
    private readonly Lock _lock = new();
    private readonly int[] _perSecond = new int[Math.Max(1, (int)Math.Ceiling(policy.Memory.TotalSeconds))];
    private readonly Func<long> _clock = clock ?? (() => Environment.TickCount64);
    private readonly Queue<long> _window = new();
    private long _second = -1;

    /// <summary>Counts one claim; returns the target now (it only rises here). See <see cref="Target"/>.</summary>
    public int Claim(long childBytes = 0)
    {
        lock (_lock)
        {
            Advance();
            long now = _clock();
            while (_window.Count > 0 && (_window.Peek() <= now - 1000 || _window.Count > policy.Max))
                _window.Dequeue();
            _window.Enqueue(now);
            ref int bucket = ref _perSecond[(int)(_second % _perSecond.Length)];
            bucket = Math.Max(bucket, _window.Count);
            return TargetLocked(childBytes);
        }
    }

    /// <summary>
    /// The target now, with seconds gone by forgotten; with <paramref name="childBytes"/> (what one
    /// parked child holds, 0 if not known) no more than <see cref="ParkPolicy.MaxBytes"/> allows.
    /// </summary>
    public int Target(long childBytes = 0)
    {
        lock (_lock)
        {
            Advance();
            return TargetLocked(childBytes);
        }
    }

    private int TargetLocked(long childBytes)
    {
        int peak = 0;
        foreach (int n in _perSecond)
            peak = Math.Max(peak, n);
        int target = Math.Clamp(peak, policy.Min, Math.Max(policy.Min, policy.Max));
        return childBytes <= 0 ? target : (int)Math.Clamp(policy.MaxBytes / childBytes, policy.Min, target);
    }

    /// <summary>Clears the buckets of every second since the last call.</summary>
    private void Advance()
    {
        long now = _clock() / 1000;
        if (_second < 0)
        {
            _second = now;
            return;
        }
        for (long s = _second + 1; s <= now && s - _second <= _perSecond.Length; s++)
            _perSecond[(int)(s % _perSecond.Length)] = 0;
        _second = Math.Max(_second, now);
    }
}

/// <summary>
/// Bounds of a zygote's parked children: at least <paramref name="Min"/>, at most <paramref name="Max"/>
/// and, above the floor, no more than <paramref name="MaxBytes"/> of memory together, sized by the
/// claims of the last <paramref name="Memory"/>.
/// </summary>
public sealed record ParkPolicy(int Min, int Max, TimeSpan Memory, long MaxBytes = long.MaxValue)
{
    /// <summary>Exactly <paramref name="n"/> parked children, whatever the demand.</summary>
    public static ParkPolicy Fixed(int n) => new(n, n, TimeSpan.FromSeconds(1));
}
