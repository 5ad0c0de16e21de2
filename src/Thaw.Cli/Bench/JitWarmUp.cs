using System.Globalization;

namespace Thaw.Cli.Bench;

/// <summary>
/// The benches run Thaw in their own fresh process, whose code starts as .NET's quick tier-0 JIT
/// and is recompiled in the background once called often (with PGO, twice). Measured right away,
/// the first seconds would time the JIT (perf: a third of a core on the tiering thread throughout a
/// short startup bench; thawd at ~6k calls/s instead of ~11k in the HTTP bench's first seconds),
/// not the steady state a long-running thawd has. So: run warm-up rounds until the tiering thread
/// has been (nearly) idle for two rounds in a row, at most 20 s.
/// </summary>
internal static class JitWarmUp
{
    private static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(20);

    public static void UntilIdle(Action round, int minRounds) =>
        UntilIdleAsync(() => { round(); return Task.CompletedTask; }, minRounds).GetAwaiter().GetResult();

    public static async Task UntilIdleAsync(Func<Task> round, int minRounds)
    {
        var deadline = DateTime.UtcNow + MaxTime;
        long jit = JitTicks();
        int idle = 0;
        for (int n = 0; (n < minRounds || idle < 2) && DateTime.UtcNow < deadline; n++)
        {
            await round().ConfigureAwait(false);
            await Task.Delay(100).ConfigureAwait(false); // past the runtime's call-counting delay, so queued recompiles run now
            // At most one tick (10 ms) of JIT in a round counts as idle: under load the runtime keeps
            // recompiling a trickle of methods (OSR, late PGO) that would hold the loop to its cap.
            long now = JitTicks();
            idle = now - jit <= 1 ? idle + 1 : 0;
            jit = now;
        }
    }

    /// <summary>CPU ticks (user + system) of this process's background JIT thread(s) so far.</summary>
    private static long JitTicks()
    {
        long ticks = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith(".NET Tiered", StringComparison.Ordinal))
                    continue;
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException) { } // the thread exited meanwhile
        }
        return ticks;
    }
}
