using System.Diagnostics;

namespace Thaw.Cli.Bench;

/// <summary>
/// Runs N operations at once on N dedicated threads released together (a burst, as when N requests
/// arrive at the same moment) and returns each operation's latency plus the burst's wall time.
/// Threads are made before the clock starts; thread-pool threads are not used because the pool
/// ramps up slowly and would serialise the burst.
/// </summary>
internal static class Burst
{
    public static (double[] LatenciesMs, double WallMs) Run(int concurrency, Action<int> operation)
    {
        var latencies = new double[concurrency];
        var errors = new Exception?[concurrency];
        using var ready = new CountdownEvent(concurrency);
        using var go = new ManualResetEventSlim();
        var threads = new Thread[concurrency];
        for (int i = 0; i < concurrency; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                ready.Signal();
                go.Wait();
                long start = Stopwatch.GetTimestamp();
                try { operation(index); }
                catch (Exception e) { errors[index] = e; }
                latencies[index] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }) { IsBackground = true };
            threads[i].Start();
        }
        ready.Wait();
        long wallStart = Stopwatch.GetTimestamp();
        go.Set();
        foreach (var t in threads) t.Join();
        double wall = Stopwatch.GetElapsedTime(wallStart).TotalMilliseconds;
        if (errors.FirstOrDefault(e => e is not null) is { } error)
            throw new InvalidOperationException($"an operation in a burst of {concurrency} failed: {error.Message}", error);
        return (latencies, wall);
    }
}
