using System.Globalization;
using Thaw.Resources.Pooling;

namespace Thaw.Cli.Bench.Startup;

/// <summary>
/// The least a sandbox start costs on this machine (src/native/startup-floor.c): one vfork-style
/// clone into new pid, ipc and uts namespaces, exec the same busybox /bin/true, reap; no server, no
/// network namespace, cgroup, root or mount namespace. Reported beside the systems so absolute
/// targets can be judged.
/// </summary>
internal static class StartupFloor
{
    private static string Program => Path.Combine(AppContext.BaseDirectory, "bench", "startup-floor");

    public static StartupResult? Measure(int concurrency, int samples, string rootfs)
    {
        if (!File.Exists(Program))
            return null;
        int bursts = Math.Max(concurrency == 1 ? 10 : 2, (samples + concurrency - 1) / concurrency);
        // Bursts 100 ms apart, as the Thaw bursts after their pools refill: halted vCPUs wake again.
        string output = PeerCommands.Run(Program, [I(concurrency), I(bursts + 1), "100", Path.Combine(rootfs, "bin", "busybox")]);
        var latencies = new List<double>();
        var walls = new List<double>();
        int burst = 0;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            bool wall = line.StartsWith("wall ", StringComparison.Ordinal);
            double ms = double.Parse(wall ? line[5..] : line, CultureInfo.InvariantCulture);
            if (burst > 0) // the first burst warms up, as for the systems
                (wall ? walls : latencies).Add(ms);
            if (wall)
                burst++;
        }
        latencies.Sort();
        walls.Sort();
        return new StartupResult("floor", concurrency, LatencyReservoir.Percentile(latencies, 0.5),
            LatencyReservoir.Percentile(latencies, 0.99), LatencyReservoir.Percentile(walls, 0.5), latencies.Count);
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
