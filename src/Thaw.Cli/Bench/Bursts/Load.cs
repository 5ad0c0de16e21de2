using System.Diagnostics;

namespace Thaw.Cli.Bench.Bursts;

/// <summary>The two shapes of load the burst bench applies: N calls released at once, and clients in a closed loop.</summary>
internal static class Load
{
    /// <summary>
    /// N calls at once on N threads released together (<see cref="Burst"/>): each call's latency and
    /// outcome, and the burst's wall time. A call that fails is an outcome, never an exception.
    /// </summary>
    public static (CallSample[] Calls, double WallMs) Burst(int n, Func<int, CallOutcome> call)
    {
        var outcomes = new CallOutcome[n];
        var (latencies, wall) = Bench.Burst.Run(n, i => outcomes[i] = Guard(call, i));
        return ([.. latencies.Select((ms, i) => new CallSample(ms, outcomes[i]))], wall);
    }

    /// <summary>
    /// <paramref name="clients"/> threads, each calling again as soon as its reply is in, until
    /// <paramref name="duration"/> has passed: every call, and the time until the last one ended.
    /// </summary>
    public static (List<CallSample> Calls, double ElapsedSeconds) ClosedLoop(int clients, TimeSpan duration, Func<int, CallOutcome> call)
    {
        var perClient = Enumerable.Range(0, clients).Select(_ => new List<CallSample>()).ToArray();
        using var ready = new CountdownEvent(clients);
        using var go = new ManualResetEventSlim();
        long start = 0;
        var threads = Enumerable.Range(0, clients).Select(c => new Thread(() =>
        {
            ready.Signal();
            go.Wait();
            while (Stopwatch.GetElapsedTime(Volatile.Read(ref start)) < duration)
            {
                long t = Stopwatch.GetTimestamp();
                var outcome = Guard(call, c);
                perClient[c].Add(new CallSample(Stopwatch.GetElapsedTime(t).TotalMilliseconds, outcome));
            }
        }) { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        ready.Wait();
        Volatile.Write(ref start, Stopwatch.GetTimestamp());
        go.Set();
        threads.ForEach(t => t.Join());
        return ([.. perClient.SelectMany(c => c)], Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static CallOutcome Guard(Func<int, CallOutcome> call, int index)
    {
        try
        {
            return call(index);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            return CallOutcome.Failed(e.Message);
        }
    }
}
